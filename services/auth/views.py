"""Auth records and results → API messages."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from google.protobuf.timestamp_pb2 import Timestamp

from jkn.auth.v1 import auth_pb2
from services.auth.sessions import Tokens
from services.kit.masking import mask_email, mask_phone
from services.kit.signing import SigningKey, jwks_message_fields


def timestamp(at: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(at)
    return message


def token_pair(issued: Tokens) -> auth_pb2.TokenPair:
    return auth_pb2.TokenPair(access_token=issued.access_token, refresh_token=issued.refresh_token,
                              token_type="Bearer", expires_in_s=issued.expires_in_s, session_id=issued.session_id,
                              account_id=issued.account_id)


def session(row: asyncpg.Record, *, current_session_id: str) -> auth_pb2.Session:
    """A `store.open_sessions` row; ``current`` when it is the caller's own session."""
    return auth_pb2.Session(session_id=str(row["id"]), user_agent=row["device"],
                            created_at=timestamp(row["created_at"]), last_used_at=timestamp(row["last_seen"]),
                            current=str(row["id"]) == current_session_id)


def account(row: asyncpg.Record) -> auth_pb2.Account:
    """A `store.account_by_id` row, its contacts masked."""
    return auth_pb2.Account(
        account_id=str(row["id"]), noka=row["noka"], name=row["name"], phone_masked=mask_phone(row["phone"]),
        email_masked=mask_email(row["email"] or ""), email_verified=row["email_verified"],
        pin_set=row["pin_hash"] is not None, created_at=timestamp(row["created_at"]))


def jwks(keys: list[SigningKey], *, max_age_s: int) -> auth_pb2.GetJwksResponse:
    """The public keys that verify access tokens, and how long a client may cache them."""
    return auth_pb2.GetJwksResponse(max_age_s=max_age_s, **jwks_message_fields(keys))


def recovery(row: asyncpg.Record) -> auth_pb2.AccountRecovery:
    """A `store.pending_recoveries` row, the new phone masked."""
    message = auth_pb2.AccountRecovery(
        recovery_id=str(row["id"]), status=auth_pb2.RecoveryStatus.Value(f"RECOVERY_STATUS_{row['status']}"),
        new_phone_masked=mask_phone(row["new_phone"]), created_at=timestamp(row["created_at"]))
    if row["effective_at"] is not None:
        message.effective_at.CopyFrom(timestamp(row["effective_at"]))
    return message
