"""Enrolment of a new self-paying (PBPU) family.

- Rule 1: a family card number (KK) of 16 digits not yet registered; 1 to 10 members,
  exactly one head; every NIK valid and agreeing with its birth date and sex (identifier
  rules 1–2), none repeated, none already belonging to a participant.
- Rule 2: the applicant proves the phone number with an SMS code (purpose ENROLLMENT, the
  enrolment id as the flow); an application expires after 24 hours.
- Rule 3: on a verified code every member gets a NOKA and is TIDAK_AKTIF /
  MENUNGGU_PEMBAYARAN; the first month's premiums are billed and a payment is opened; the
  confirmed payment makes the family AKTIF (payments rule 5).
"""

from __future__ import annotations

from datetime import date, timedelta

from services.kit.errors import DomainError, ValidationFailed
from services.membership import identifiers

MAX_MEMBERS = 10
APPLICATION_LIFETIME = timedelta(hours=24)
RELATIONS = {"HEAD", "SPOUSE", "CHILD", "OTHER"}


def validate_application(*, kk_number: str, care_class: int, members: list[dict], today: date) -> None:
    """Rule 1 (the checks that need no database); ``today`` is the Jakarta calendar date."""
    errors = []
    if identifiers.identifier_kind(kk_number) != "nik":  # a KK number has the NIK's 16-digit shape
        errors.append({"field": "kk_number", "code": "invalid", "message": "16 digits"})
    if care_class not in (1, 2, 3):
        errors.append({"field": "class", "code": "invalid", "message": "1, 2 or 3"})
    if not 1 <= len(members) <= MAX_MEMBERS:
        errors.append({"field": "members", "code": "invalid", "message": f"1 to {MAX_MEMBERS} members"})
    if sum(m["relation"] == "HEAD" for m in members) != 1:
        errors.append({"field": "members", "code": "invalid", "message": "exactly one HEAD"})
    seen: set[str] = set()
    for index, member in enumerate(members):
        problems = identifiers.nik_problems(member["nik"], birth_date=member["birth_date"], sex=member["sex"])
        if member["nik"] in seen:
            problems.append("repeated")
        seen.add(member["nik"])
        errors += [{"field": f"members.{index}.nik", "code": p, "message": "NIK not acceptable"} for p in problems]
        if not member["name"].strip() or len(member["name"]) > 100:
            errors.append({"field": f"members.{index}.name", "code": "invalid", "message": "1 to 100 characters"})
        if member["relation"] not in RELATIONS:
            errors.append({"field": f"members.{index}.relation", "code": "invalid", "message": "unknown relation"})
        if member["birth_date"] > today:
            errors.append({"field": f"members.{index}.birth_date", "code": "invalid", "message": "in the future"})
    if errors:
        raise ValidationFailed(errors)


def already_registered(taken: list[str]) -> DomainError:
    """Rule 1: NIKs that already belong to a participant (which ones is not said)."""
    return DomainError(f"{len(taken)} NIK(s) already registered", code="ALREADY_REGISTERED")
