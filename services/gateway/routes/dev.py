"""Dev-only routes (``JKN_ENV`` ≠ prod; in prod they do not exist: 404)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2
from services.gateway.deps import State
from services.gateway.models import utc_iso

router = APIRouter(prefix="/dev", tags=["dev"])
_CHANNEL = {common_pb2.CHANNEL_SMS: "sms", common_pb2.CHANNEL_EMAIL: "email"}


class OutboxItem(BaseModel):
    channel: Literal["sms", "email"]
    to: str
    subject: str
    body: str
    code: str | None
    created_at: str


class Outbox(BaseModel):
    items: list[OutboxItem]


@router.get("/outbox", summary="Every SMS and email the stack sent, newest first")
async def outbox(state: State, to: str = Query("", max_length=254, description="phone (08… or +628…) or email"),
                 limit: int = Query(50, ge=1, le=500)) -> Outbox:
    reply = await state.notify.ListDevOutbox(notify_pb2.ListDevOutboxRequest(to=to, limit=limit))
    return Outbox(items=[
        OutboxItem(channel=_CHANNEL.get(i.channel, "sms"), to=i.to, subject=i.subject, body=i.body,
                   code=i.code if i.HasField("code") else None,
                   created_at=utc_iso(i.created_at))
        for i in reply.items
    ])
