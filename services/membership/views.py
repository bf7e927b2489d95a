"""Participant records → API messages, and request messages → what the use cases take (the raw
NIK never leaves this service except to auth)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import asyncpg
from google.protobuf.timestamp_pb2 import Timestamp

from jkn.common.v1 import common_pb2
from jkn.membership.v1 import membership_pb2, partner_pb2
from services.kit.masking import mask_nik
from services.membership import inputs, premiums
from services.membership.enrolments import Application

_SEX = {"M": membership_pb2.SEX_MALE, "F": membership_pb2.SEX_FEMALE}
_SEX_LETTER = {membership_pb2.SEX_MALE: "M", membership_pb2.SEX_FEMALE: "F"}


def participant(row: asyncpg.Record, pending_change: asyncpg.Record | None = None) -> membership_pb2.Participant:
    message = membership_pb2.Participant(
        participant_id=str(row["id"]), noka=row["noka"], nik_masked=mask_nik(row["nik"]), name=row["name"],
        birth_date=row["birth_date"].isoformat(), sex=_SEX[row["sex"]],
        relation=membership_pb2.Relation.Value(f"RELATION_{row['relation']}"),
        segment=membership_pb2.Segment.Value(f"SEGMENT_{row['segment']}"), care_class=row["care_class"],
        status=membership_pb2.ParticipantStatus.Value(f"PARTICIPANT_STATUS_{row['status']}"),
        status_reason=status_reason(row["status_reason"]),
        fktp=common_pb2.CodeName(code=row["fktp_code"], name=row["fktp_name"]))
    if pending_change is not None:
        message.pending_fktp_change.CopyFrom(fktp_change(code=pending_change["to_code"],
                                                         name=pending_change["to_name"],
                                                         effective_date=pending_change["effective_date"]))
    return message


def status_reason(reason: str | None) -> membership_pb2.StatusReason.ValueType:
    return membership_pb2.StatusReason.Value(f"STATUS_REASON_{reason or 'UNSPECIFIED'}")


def fktp_change(*, code: str, name: str, effective_date: date) -> membership_pb2.FktpChange:
    return membership_pb2.FktpChange(facility=common_pb2.CodeName(code=code, name=name),
                                     effective_date=effective_date.isoformat())


def timestamp(at: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(at)
    return message


def payment(row: asyncpg.Record) -> membership_pb2.Payment:
    return membership_pb2.Payment(payment_id=str(row["id"]), virtual_account=row["virtual_account"],
                                  amount_idr=row["amount_idr"], expires_at=timestamp(row["expires_at"]),
                                  periods=list(row["periods"]),
                                  status=membership_pb2.PaymentStatus.Value(f"PAYMENT_STATUS_{row['status']}"))


def bill(row: asyncpg.Record) -> membership_pb2.Bill:
    return membership_pb2.Bill(period=row["period"], amount_idr=row["amount_idr"],
                               status=membership_pb2.BillStatus.Value(f"BILL_STATUS_{row['status']}"),
                               due_date=premiums.due_date(row["period"]).isoformat())


def card(row: asyncpg.Record, *, token: str, key_id: str, expires_at_s: int) -> membership_pb2.Card:
    expires_at = Timestamp()
    expires_at.FromSeconds(expires_at_s)
    view = participant(row)
    return membership_pb2.Card(
        noka=row["noka"], name=row["name"], birth_date=row["birth_date"].isoformat(), care_class=row["care_class"],
        segment=view.segment, fktp=view.fktp, qr_payload=token, signature=token.rpartition(".")[2], key_id=key_id,
        expires_at=expires_at)


def eligibility(row: asyncpg.Record, *, eligible: bool) -> partner_pb2.CheckEligibilityResponse:
    response = partner_pb2.CheckEligibilityResponse(
        eligible=eligible, status=membership_pb2.ParticipantStatus.Value(f"PARTICIPANT_STATUS_{row['status']}"),
        status_reason=status_reason(row["status_reason"]),
        segment=membership_pb2.Segment.Value(f"SEGMENT_{row['segment']}"), fktp_code=row["fktp_code"],
        name=row["name"], noka=row["noka"], nik=row["nik"], sex=_SEX.get(row["sex"], membership_pb2.SEX_UNSPECIFIED),
        birth_date=row["birth_date"].isoformat(), fktp_name=row["fktp_name"])
    setattr(response, "class", row["care_class"])  # noqa: B010 - `class` is a keyword in Python
    return response


def application(request: membership_pb2.StartEnrollmentRequest) -> Application:
    """The application in a StartEnrollment request, as sent (enrolment rule 1 judges it): a
    member's birth date None when it is not a date, an unknown sex or relation "?"."""
    return Application(kk_number=request.kk_number, address=request.address.strip(), phone=request.phone.strip(),
                       email=request.email.strip().lower(), care_class=request.care_class,
                       fktp_code=request.fktp_code.strip().upper(), members=_members(request.members))


_RELATIONS = {value: name.removeprefix("RELATION_") for name, value in membership_pb2.Relation.items()
              if value != membership_pb2.RELATION_UNSPECIFIED}


def _members(members: Iterable[membership_pb2.EnrollmentMember]) -> list[dict[str, Any]]:
    return [{"nik": m.nik, "name": m.name.strip().upper(), "birth_date": inputs.as_date(m.birth_date),
             "sex": _SEX_LETTER.get(m.sex, "?"), "relation": _RELATIONS.get(m.relation, "?")}
            for m in members]
