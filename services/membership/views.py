"""Participant records → API messages (the raw NIK never leaves this service except to auth)."""

from __future__ import annotations

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.membership.v1 import membership_pb2
from services.kit.masking import mask_nik

_SEX = {"M": membership_pb2.SEX_MALE, "F": membership_pb2.SEX_FEMALE}


def participant(row: asyncpg.Record, pending_change: asyncpg.Record | None = None) -> membership_pb2.Participant:
    message = membership_pb2.Participant(
        participant_id=str(row["id"]), noka=row["noka"], nik_masked=mask_nik(row["nik"]), name=row["name"],
        birth_date=row["birth_date"].isoformat(), sex=_SEX[row["sex"]],
        relation=membership_pb2.Relation.Value(f"RELATION_{row['relation']}"),
        segment=membership_pb2.Segment.Value(f"SEGMENT_{row['segment']}"), care_class=row["care_class"],
        status=membership_pb2.ParticipantStatus.Value(f"PARTICIPANT_STATUS_{row['status']}"),
        status_reason=membership_pb2.StatusReason.Value(f"STATUS_REASON_{row['status_reason'] or 'UNSPECIFIED'}"),
        fktp=common_pb2.CodeName(code=row["fktp_code"], name=row["fktp_name"]))
    if pending_change is not None:
        message.pending_fktp_change.CopyFrom(membership_pb2.FktpChange(
            facility=common_pb2.CodeName(code=pending_change["to_code"], name=pending_change["to_name"]),
            effective_date=pending_change["effective_date"].isoformat()))
    return message
