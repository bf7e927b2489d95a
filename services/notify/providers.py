"""Where messages go: the SMTP relay, an HTTP SMS gateway, and the dev outbox.

Every provider has a ``name`` and ``send(message, conn)`` (`Provider`); the delivery worker keeps
a list of them per channel (`channels`), so another channel is a module of its own (`whatsapp`).
Each provider's ``send`` either delivers or raises; `ProviderError.permanent` tells the
worker not to try again (a 4xx refusal from the gateway: a bad number, a bad request). Retries
here are for the transient — timeouts, connection errors, 5xx, and the gateway's throttling
(408 Request Timeout, 425, 429 Too Many Requests), waiting at least what its ``Retry-After``
asks (capped, so a worker is never parked for long; past the cap the delivery worker's own
retries take over) — with backoff, and always resend the very same message (same text, same
code, same reference) so a retry can never produce a different code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid, parsedate_to_datetime
from typing import Protocol

import aiosmtplib
import asyncpg
import httpx

from services.notify import store


class Provider(Protocol):
    """What the delivery worker needs of a provider."""

    name: str

    async def send(self, message: Outgoing, conn: asyncpg.Connection) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    """One message ready to send."""

    request_id: str
    channel: str  # "sms" | "email"
    to: str
    subject: str
    body: str
    code: str | None = None  # only the dev outbox keeps it (it is what `GET /dev/outbox` shows)


#: Gateway answers that mean "not now" rather than "never".
THROTTLED = frozenset({408, 425, 429})
#: The longest ``Retry-After`` one send waits for before giving the message back to the worker.
MAX_RETRY_AFTER_S = 10.0


class ProviderError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, retry_after_s: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after_s = retry_after_s


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delay seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when.tzinfo else None


class DevOutbox:
    """Dev and test only: records the message where `GET /dev/outbox` reads it. Like an operator
    for a dead number, it refuses for good every SMS to ``unreachable`` (E.164 numbers; setting
    ``JKN_NOTIFY_DEV_UNREACHABLE_NUMBERS``), so the fallback to email can be tried end to end."""

    name = "dev_outbox"
    unreachable: frozenset[str] = frozenset()

    def __init__(self, unreachable: frozenset[str] = frozenset()):
        self.unreachable = unreachable

    async def send(self, message: Outgoing, conn: asyncpg.Connection) -> None:
        if message.channel == "sms" and message.to in self.unreachable:
            raise ProviderError("the dev SMS provider cannot reach this number", permanent=True)
        await store.add_dev_outbox(conn, channel=message.channel, recipient=message.to, subject=message.subject,
                                   body=message.body, code=message.code)


class Smtp:
    name = "smtp"

    def __init__(self, *, host: str, port: int, username: str, password: str, use_tls: bool, sender: str,
                 timeout_s: float, retries: int):
        self.host, self.port, self.username, self.password = host, port, username, password
        self.use_tls, self.sender, self.timeout_s, self.retries = use_tls, sender, timeout_s, retries

    async def send(self, message: Outgoing, conn: asyncpg.Connection) -> None:
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = self.sender, message.to, message.subject
        email["Message-ID"] = make_msgid(idstring=message.request_id, domain="jkn.notify")
        email.set_content(message.body)
        await _with_retries(self.retries, lambda: aiosmtplib.send(
            email, hostname=self.host, port=self.port, username=self.username or None,
            password=self.password or None, start_tls=self.use_tls, timeout=self.timeout_s))


class HttpSms:
    """An HTTP SMS gateway: ``POST {url}`` with ``{to, text, sender, reference}`` and a bearer token."""

    name = "http_sms"

    def __init__(self, *, url: str, token: str, sender: str, timeout_s: float, retries: int):
        self.url, self.sender, self.retries = url, sender, retries
        self.client = httpx.AsyncClient(timeout=timeout_s, headers={"Authorization": f"Bearer {token}"})

    async def send(self, message: Outgoing, conn: asyncpg.Connection) -> None:
        payload = {"to": message.to, "text": message.body, "sender": self.sender, "reference": message.request_id}
        await _with_retries(self.retries, lambda: post_json(self.client, self.url, payload, key=message.request_id))

    async def close(self) -> None:
        await self.client.aclose()


async def post_json(client: httpx.AsyncClient, url: str, payload: dict, *, key: str) -> None:
    """One ``POST`` of an HTTP provider, classified: 5xx and `THROTTLED` are transient (with the
    ``Retry-After`` asked for), any other 4xx a permanent refusal. ``key`` is the idempotency key
    (the request id), so a retried post is the same message to the provider."""
    response = await client.post(url, json=payload, headers={"Idempotency-Key": key})
    if response.status_code >= 500 or response.status_code in THROTTLED:
        raise ProviderError(f"gateway answered {response.status_code}",
                            retry_after_s=retry_after_s(response.headers.get("Retry-After")))
    if response.status_code >= 400:
        raise ProviderError(f"gateway refused with {response.status_code}", permanent=True)


async def with_retries(tries: int, call) -> None:
    """`_with_retries` for provider modules of their own (`whatsapp`)."""
    await _with_retries(tries, call)


async def _with_retries(tries: int, call, *, first_backoff_s: float = 0.2) -> None:
    """Run ``call`` until it succeeds; transient failures are retried with exponential backoff,
    never sooner than the provider's ``Retry-After`` (up to `MAX_RETRY_AFTER_S`)."""
    for attempt in range(1, tries + 1):
        wait_s = first_backoff_s * 2 ** (attempt - 1)
        try:
            await call()
            return
        except ProviderError as error:
            if error.permanent or attempt == tries:
                raise
            if error.retry_after_s is not None:
                if error.retry_after_s > MAX_RETRY_AFTER_S:
                    raise  # the worker retries the message later
                wait_s = max(wait_s, error.retry_after_s)
        except (httpx.TransportError, aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            if attempt == tries:
                raise ProviderError(f"{type(error).__name__} after {tries} tries") from error
        await asyncio.sleep(wait_s)
