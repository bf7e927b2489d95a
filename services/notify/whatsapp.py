"""A WhatsApp Business–style HTTP provider (the shape of Meta's Cloud API): a third channel for
one-time codes and notices, behind the same `providers.Provider` port as SMS and email. Off unless
``JKN_NOTIFY_WHATSAPP_API_URL`` is set.

``POST {url}`` with a bearer token and ``{messaging_product: "whatsapp", to, type: "text",
text: {body}, biz_opaque_callback_data: <request id>}``; answers are classified like the SMS
gateway's (`providers.post_json`: 5xx and throttling retried, other 4xx a permanent refusal).
"""

from __future__ import annotations

import asyncpg
import httpx

from services.notify.providers import Outgoing, post_json, with_retries


class WhatsAppBusiness:
    name = "whatsapp_business"

    def __init__(self, *, url: str, token: str, timeout_s: float, retries: int):
        self.url, self.retries = url, retries
        self.client = httpx.AsyncClient(timeout=timeout_s, headers={"Authorization": f"Bearer {token}"})

    async def send(self, message: Outgoing, conn: asyncpg.Connection) -> None:
        payload = {"messaging_product": "whatsapp", "to": message.to.removeprefix("+"), "type": "text",
                   "text": {"body": message.body}, "biz_opaque_callback_data": message.request_id}
        await with_retries(self.retries, lambda: post_json(self.client, self.url, payload, key=message.request_id))

    async def close(self) -> None:
        await self.client.aclose()
