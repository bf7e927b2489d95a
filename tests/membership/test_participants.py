"""Finding participants (`participants`): by NOKA, NIK or id — a malformed one a 422 or simply not found,
never a database error — and matching an identity, against membership's real database."""

from __future__ import annotations

import uuid

import pytest

from services.kit.errors import DomainError
from services.membership import participants

BUDI_NOKA, BUDI_NIK = "0001234567801", "3171011501800001"


async def refusal(call) -> DomainError:
    with pytest.raises(DomainError) as refused:
        await call
    return refused.value


async def test_a_participant_is_found_by_noka_nik_or_any_spelling_of_the_id(membership_db):
    by_noka = await participants.find(membership_db, noka=BUDI_NOKA)
    by_nik = await participants.find(membership_db, nik=BUDI_NIK)
    found = [await participants.find(membership_db, participant_id=spelling)
             for spelling in (str(by_noka["id"]), str(by_noka["id"]).upper(), by_noka["id"].hex,
                              "urn:uuid:" + str(by_noka["id"]))]
    assert {r["noka"] for r in (by_noka, by_nik, *found)} == {BUDI_NOKA}


@pytest.mark.parametrize("participant_id", ["not-a-uuid", "1", "'; SELECT 1 --", "urn:uuid:", "x" * 10_000,
                                            str(uuid.uuid4())])
async def test_an_id_that_names_nobody_is_not_found(membership_db, participant_id):
    assert (await refusal(participants.find(membership_db, participant_id=participant_id))).code == "NOT_FOUND"


@pytest.mark.parametrize(("lookup", "field"), [({"noka": "12ab"}, "noka"), ({"noka": "0" * 10_000}, "noka"),
                                              ({"nik": "317101150180000"}, "nik"), ({"nik": "３" * 16}, "nik"),
                                              ({}, "noka"), ({"noka": "", "nik": "", "participant_id": ""}, "noka")])
async def test_a_malformed_or_missing_identifier_is_a_validation_error(membership_db, lookup, field):
    error = await refusal(participants.find(membership_db, **lookup))
    assert error.code == "VALIDATION_ERROR" and [e["field"] for e in error.fields["errors"]] == [field]


async def test_an_identity_matches_with_the_right_birth_date_only(membership_db):
    assert (await participants.match_identity(membership_db, identifier=BUDI_NIK, birth_date="1980-01-15"))["noka"] \
        == BUDI_NOKA
    assert await participants.match_identity(membership_db, identifier=BUDI_NOKA, birth_date="1980-01-16") is None


@pytest.mark.parametrize(("identifier", "birth_date", "field"), [
    ("", "1980-01-15", "identifier"), ("x" * 10_000, "1980-01-15", "identifier"),
    (BUDI_NIK, "", "birth_date"), (BUDI_NIK, "19800115", "birth_date"), (BUDI_NIK, "1980-02-30", "birth_date")])
async def test_a_malformed_identity_is_a_validation_error(membership_db, identifier, birth_date, field):
    error = await refusal(participants.match_identity(membership_db, identifier=identifier, birth_date=birth_date))
    assert error.code == "VALIDATION_ERROR" and error.fields["errors"][0]["field"] == field
