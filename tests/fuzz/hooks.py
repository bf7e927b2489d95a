"""Schemathesis hooks of `make fuzz` (named in tests/fuzz/schemathesis.toml): every operation behind
the bearer scheme gets an access token of a demo account (CONTRACT.md §6) — Dewi's, except for the
three operations that end sessions, which get Rudi's.

Why two accounts: the fuzzer locks Dewi out for most of a long run (wrong passwords at
``POST /v1/sessions`` for the schema's example identifier, her email, and at ``PUT /v1/me/pin``
count towards her account's lockout, up to 15 min), so once her session is gone she cannot log in
again. Her session therefore must not end: ``DELETE /v1/sessions/current`` and
``GET``/``DELETE /v1/me/sessions[/{id}]`` (the stateful phase chains those two) act on Rudi's
sessions instead, and Rudi — whose identifiers appear nowhere in the schema — is never locked, so
he simply logs in again.

A token is fetched again every ``REFRESH_S`` (inside its 900 s life) and whenever a request that
carried it got a 401 (schemathesis then replays that request once with the new one). It comes from
the refresh token when the session still lives (no password check, so no lockout), else from a
spare session opened at the start, else from a fresh login.

The payment provider's webhook gets a valid ``X-Signature`` of the body it is sent, so the fuzzer
reaches the handler behind the signature check instead of only its 401.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import os
import threading

import httpx
import schemathesis
from schemathesis.core import NotSet

GATEWAY = os.environ.get("JKN_FUZZ_GATEWAY", "http://127.0.0.1:8080")
STATS_FILE = os.environ.get("JKN_FUZZ_AUTH_STATS")
PASSWORD = "Sehat#2026"
#: Login identifiers of each account, the one the schema's examples never use first.
ACCOUNTS = {"dewi": ("5171014408950006", "0004567890006", "dewi.lestari@example.id"),  # NIK, NOKA, email
            "rudi": ("3171010505750007", "0005678900007")}
SESSION_ENDERS = {"DELETE /v1/sessions/current", "GET /v1/me/sessions", "DELETE /v1/me/sessions/{session_id}"}
SPARE_SESSIONS = 3
REFRESH_S = 600
#: The dev stack's payment webhook secret (CONTRACT.md §6).
PAYMENT_WEBHOOK_SECRET = os.environ.get("JKN_MEMBERSHIP_PAYMENT_WEBHOOK_SECRET", "dev-payment-secret")


def account_for(case) -> str:
    return "rudi" if case.operation.label in SESSION_ENDERS else "dewi"


class DemoSession:
    """One account's current session, and spares: hands out a valid access token."""

    def __init__(self, name: str, gateway: str) -> None:
        self.name = name
        self.identifiers = ACCOUNTS[name]
        self.gateway = gateway
        self.refresh_token: str | None = None
        self.spares: list[str] | None = None
        self.stats = {"logins": 0, "refreshes": 0, "spares_used": 0, "refused": 0}
        self._lock = threading.Lock()

    def access_token(self) -> str:
        with self._lock, httpx.Client(base_url=self.gateway, timeout=10) as client:
            if self.spares is None:  # first use: open the spare sessions while the account is not locked yet
                self.spares = [self._login(client)["refresh_token"] for _ in range(SPARE_SESSIONS)]
            while self.refresh_token is not None:
                refreshed = client.post("/v1/sessions/refresh", json={"refresh_token": self.refresh_token})
                if refreshed.status_code == 201:
                    self.stats["refreshes"] += 1
                    return self._keep(refreshed.json())
                self.stats["refused"] += 1  # that session was ended: the next spare, if any
                self.refresh_token = self.spares.pop() if self.spares else None
                if self.refresh_token is not None:
                    self.stats["spares_used"] += 1
            return self._keep(self._login(client))

    def _login(self, client: httpx.Client) -> dict:
        refusals = []
        for identifier in self.identifiers:
            login = client.post("/v1/sessions", json={"identifier": identifier, "password": PASSWORD})
            if login.status_code == 201:
                self.stats["logins"] += 1
                return login.json()
            self.stats["refused"] += 1
            refusals.append(f"{identifier[:4]}…: {login.status_code} {login.text[:200]}")
        raise RuntimeError(f"{self.name} could not log in: " + "; ".join(refusals))

    def _keep(self, tokens: dict) -> str:
        self.refresh_token = tokens["refresh_token"]
        return tokens["access_token"]


SESSIONS = {name: DemoSession(name, GATEWAY) for name in ACCOUNTS}


@atexit.register
def write_stats() -> None:
    if STATS_FILE:
        with open(STATS_FILE, "w") as out:
            json.dump({name: session.stats for name, session in SESSIONS.items()}, out)


def secured(ctx) -> bool:
    """Only the operations the schema puts behind the bearer scheme get a token."""
    return bool(ctx.operation.definition.raw.get("security"))


@schemathesis.auth(refresh_interval=REFRESH_S, retry_on=[401], cache_by_key=lambda case, ctx: account_for(case)
                   ).apply_to(secured)
class DemoBearer:
    def get(self, case, context) -> str:
        return SESSIONS[account_for(case)].access_token()

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    """Sign ``POST /v1/payment-callbacks`` bodies as the provider would (HMAC-SHA256 of the raw bytes, hex)."""
    if case.operation.label != "POST /v1/payment-callbacks":
        return
    if isinstance(case.body, NotSet):
        raw = b""
    elif isinstance(case.body, bytes):
        raw = case.body
    else:  # sent as these exact bytes, so the signature covers what goes on the wire
        raw = json.dumps(case.body).encode()
        case.body = raw
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-signature"}
    headers["X-Signature"] = hmac.new(PAYMENT_WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    case.headers = headers
