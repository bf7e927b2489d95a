"""Notify's gRPC servicer: translates messages to calls of the domain and the store.

RPCs not implemented yet answer ``UNIMPLEMENTED`` (the generated base class).
"""

from __future__ import annotations

import asyncpg
import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.kit.errors import NotFound
from services.notify import store
from services.notify.contacts import normalize_destination

_CHANNELS = {"sms": common_pb2.CHANNEL_SMS, "email": common_pb2.CHANNEL_EMAIL}


class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    def __init__(self, *, pool: asyncpg.Pool, dev_outbox_enabled: bool):
        self.pool = pool
        self.dev_outbox_enabled = dev_outbox_enabled

    async def ListDevOutbox(self, request: notify_pb2.ListDevOutboxRequest, context: grpc.aio.ServicerContext
                            ) -> notify_pb2.ListDevOutboxResponse:
        if not self.dev_outbox_enabled:
            raise NotFound("the dev outbox exists only in dev")
        limit = min(request.limit or 50, 500)
        to = normalize_destination(request.to) if request.to else None
        rows = await store.list_dev_outbox(self.pool, to=to, limit=limit)
        return notify_pb2.ListDevOutboxResponse(items=[_outbox_item(r) for r in rows])


def _outbox_item(row: asyncpg.Record) -> notify_pb2.DevOutboxItem:
    created_at = Timestamp()
    created_at.FromDatetime(row["created_at"])
    item = notify_pb2.DevOutboxItem(channel=_CHANNELS[row["channel"]], to=row["recipient"],
                                    subject=row["subject"], body=row["body"], created_at=created_at)
    if row["code"] is not None:
        item.code = row["code"]
    return item
