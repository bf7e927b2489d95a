"""Finding participants, and what they (and auth) may read about them: the family, the card.

- Rule 1: a participant is found by NOKA (13 digits), NIK (16 digits) or id (a UUID). A malformed
  NOKA or NIK is a 422 naming the field, none of the three a 422 (``noka`` required); one that
  belongs to nobody, and an id that is not a UUID (inputs rule 3), is NOT_FOUND.
- Rule 2: an identity matches when the identifier (a NIK or a NOKA) and the birth date belong to
  one participant; a mismatch does not say which part failed.
- Rule 3: the family is every member of the participant's family card, head first; it is
  covered when every member is AKTIF. A member's pending FKTP change is shown with them.
- Rule 4: the digital card is signed for the participant as they stand now (card rules 1–2).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.kit.errors import NotFound
from services.kit.signing import SigningKey
from services.membership import card, identifiers, inputs, store


async def find(conn: asyncpg.Pool | asyncpg.Connection, *, noka: str = "", nik: str = "",
               participant_id: str = "") -> asyncpg.Record:
    """Rule 1 (the first of ``noka``, ``nik``, ``participant_id`` that is given)."""
    if noka and not identifiers.is_noka(noka):
        raise inputs.invalid("noka", "13 digits")
    if nik and identifiers.identifier_kind(nik) != "nik":
        raise inputs.invalid("nik", "16 digits")
    if not (noka or nik or participant_id):
        raise inputs.invalid("noka", "a NOKA, a NIK or a participant id is required", code="required")
    row = None
    if noka or nik:
        row = await store.participant_by(conn, noka=noka or None, nik=nik or None)
    elif (by_id := inputs.as_uuid(participant_id)) is not None:
        row = await store.participant_by(conn, participant_id=by_id)
    if row is None:
        raise NotFound("no such participant")
    return row


async def match_identity(pool: asyncpg.Pool, *, identifier: str, birth_date: str) -> asyncpg.Record | None:
    """Rule 2: the participant, or None when the two do not belong together."""
    kind = identifiers.identifier_kind(identifier)
    if kind is None:
        raise inputs.invalid("identifier", "a NIK (16 digits) or a NOKA (13 digits)")
    born = inputs.parse_date(birth_date, "birth_date")
    row = await (store.participant_by(pool, nik=identifier) if kind == "nik"
                 else store.participant_by(pool, noka=identifier))
    if row is None or row["birth_date"] != born:
        return None
    return row


@dataclass(frozen=True)
class Family:
    """Rule 3: the participant asked about and the whole family (head first)."""

    participant: asyncpg.Record
    members: list[asyncpg.Record]
    #: Pending FKTP changes by participant id (members without one are absent).
    pending_changes: dict[uuid.UUID, asyncpg.Record]

    @property
    def all_active(self) -> bool:
        return all(m["status"] == "AKTIF" for m in self.members)

    def pending_change_of(self, member: asyncpg.Record) -> asyncpg.Record | None:
        return self.pending_changes.get(member["id"])


async def with_pending_change(pool: asyncpg.Pool, *, noka: str = "", nik: str = "", participant_id: str = ""
                              ) -> tuple[asyncpg.Record, asyncpg.Record | None]:
    """Rules 1 and 3: one participant and their pending FKTP change (None: none)."""
    row = await find(pool, noka=noka, nik=nik, participant_id=participant_id)
    pending = await store.pending_fktp_changes(pool, participant_ids=[row["id"]])
    return row, pending.get(row["id"])


async def family(pool: asyncpg.Pool, *, noka: str) -> Family:
    """Rules 1 and 3."""
    row = await find(pool, noka=noka)
    members = await store.family_of(pool, family_id=row["family_id"])
    pending = await store.pending_fktp_changes(pool, participant_ids=[m["id"] for m in members])
    return Family(participant=row, members=members, pending_changes=pending)


@dataclass(frozen=True)
class IssuedCard:
    participant: asyncpg.Record
    #: The QR payload: a compact JWS (header.claims.signature).
    token: str
    key_id: str
    expires_at_s: int


async def issue_card(pool: asyncpg.Pool, *, noka: str, key: SigningKey, validity: timedelta,
                     now: datetime) -> IssuedCard:
    """Rules 1 and 4."""
    row = await find(pool, noka=noka)
    claims = card.card_claims(noka=row["noka"], name=row["name"], care_class=row["care_class"],
                              fktp_code=row["fktp_code"], issued_at=now, validity=validity)
    expires_at_s = claims["exp"]
    assert isinstance(expires_at_s, int)
    return IssuedCard(participant=row, token=card.sign_card(key, claims), key_id=key.kid, expires_at_s=expires_at_s)
