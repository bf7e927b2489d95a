"""Enrolment of a new self-paying (PBPU) family.

- Rule 1: a family card number (KK) of 16 digits not yet registered; care class 1, 2 or 3; an
  address of 5 to 300 characters; a mobile phone ``08…`` or ``+628…``; an email address; 1 to
  10 members, exactly one head; each member with a name of 1 to 100 characters, a birth date
  ``YYYY-MM-DD`` from 1900 to today, a sex (M/F) and a known relation, and a NIK valid and
  agreeing with its birth date and sex (identifier rules 1–2), none repeated, none already
  belonging to a participant. Every problem is reported at once, by field
  (``members.<i>.<field>``); a family of more than 10 is refused without looking at its members.
- Rule 2: the applicant proves the phone number with an SMS code (purpose ENROLLMENT, the
  enrolment id as the flow); an application expires after 24 hours.
- Rule 3: on a verified code every member gets a NOKA and is TIDAK_AKTIF /
  MENUNGGU_PEMBAYARAN; the first month's premiums are billed and a payment is opened; the
  confirmed payment makes the family AKTIF (payments rule 8).
- Rule 4: with the captcha on (platform setting ``JKN_CAPTCHA``), an application without a
  passed captcha is refused (CAPTCHA_REQUIRED) before anything else is looked at: rule 1's
  "already registered" answers whether a NIK or a family card is known, so without it the
  application would be a free oracle of who is a participant.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from services.contracts.contacts import normalize_phone
from services.kit.errors import DomainError, ValidationFailed
from services.membership import identifiers

MAX_MEMBERS = 10
APPLICATION_LIFETIME = timedelta(hours=24)
RELATIONS = {"HEAD", "SPOUSE", "CHILD", "OTHER"}
SEXES = {"M", "F"}
OLDEST_BIRTH_DATE = date(1900, 1, 1)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def require_captcha(*, captcha_on: bool, captcha_passed: bool) -> None:
    """Rule 4."""
    if captcha_on and not captcha_passed:
        raise DomainError("captcha required", code="CAPTCHA_REQUIRED")


def contact_errors(*, address: str, phone: str, email: str) -> list[dict[str, str]]:
    """Rule 1: the address, the phone and the email."""
    errors = []
    if not 5 <= len(address.strip()) <= 300:
        errors.append({"field": "address", "code": "invalid", "message": "5 to 300 characters"})
    if not (normalize_phone(phone) or "").startswith("+628"):
        errors.append({"field": "phone", "code": "invalid", "message": "a mobile number 08… or +628…"})
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        errors.append({"field": "email", "code": "invalid", "message": "an email address"})
    return errors


def validate_application(*, kk_number: str, care_class: int, address: str, phone: str, email: str,
                         members: list[dict], today: date) -> None:
    """Rule 1 (the checks that need no database); ``today`` is the Jakarta calendar date. A
    member's ``birth_date`` is None when it was not a date, ``sex`` and ``relation`` are "?" when
    unknown."""
    errors = []
    if identifiers.identifier_kind(kk_number) != "nik":  # a KK number has the NIK's 16-digit shape
        errors.append({"field": "kk_number", "code": "invalid", "message": "16 digits"})
    if care_class not in (1, 2, 3):
        errors.append({"field": "class", "code": "invalid", "message": "1, 2 or 3"})
    errors += contact_errors(address=address, phone=phone, email=email)
    if not 1 <= len(members) <= MAX_MEMBERS:
        errors.append({"field": "members", "code": "invalid", "message": f"1 to {MAX_MEMBERS} members"})
        if members:
            raise ValidationFailed(errors)
    if sum(m["relation"] == "HEAD" for m in members) != 1:
        errors.append({"field": "members", "code": "invalid", "message": "exactly one HEAD"})
    seen: set[str] = set()
    for index, member in enumerate(members):
        errors += _member_errors(member, f"members.{index}", seen=seen, today=today)
    if errors:
        raise ValidationFailed(errors)


def _member_errors(member: dict, prefix: str, *, seen: set[str], today: date) -> list[dict[str, str]]:
    born, sex = member["birth_date"], member["sex"]
    problems = identifiers.nik_problems(member["nik"], birth_date=born, sex=sex if sex in SEXES else None)
    if member["nik"] in seen:
        problems.append("repeated")
    seen.add(member["nik"])
    errors = [{"field": f"{prefix}.nik", "code": p, "message": "NIK not acceptable"} for p in problems]
    if not member["name"].strip() or len(member["name"]) > 100:
        errors.append({"field": f"{prefix}.name", "code": "invalid", "message": "1 to 100 characters"})
    if born is None:
        errors.append({"field": f"{prefix}.birth_date", "code": "invalid", "message": "expected YYYY-MM-DD"})
    elif born > today:
        errors.append({"field": f"{prefix}.birth_date", "code": "invalid", "message": "in the future"})
    elif born < OLDEST_BIRTH_DATE:
        errors.append({"field": f"{prefix}.birth_date", "code": "invalid", "message": "before 1900"})
    if sex not in SEXES:
        errors.append({"field": f"{prefix}.sex", "code": "invalid", "message": "M or F"})
    if member["relation"] not in RELATIONS:
        errors.append({"field": f"{prefix}.relation", "code": "invalid", "message": "unknown relation"})
    return errors


def already_registered(taken: list[str]) -> DomainError:
    """Rule 1: NIKs that already belong to a participant (which ones is not said)."""
    return DomainError(f"{len(taken)} NIK(s) already registered", code="ALREADY_REGISTERED")
