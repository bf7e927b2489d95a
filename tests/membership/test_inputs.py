"""The shapes of membership's request fields (services/membership/inputs.py): no server."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.kit.errors import ValidationFailed
from services.membership import inputs


def refused(call) -> list[dict[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        call()
    return caught.value.fields["errors"]


# --- rule 1: dates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "day"), [("2026-11-21", date(2026, 11, 21)), ("2024-02-29", date(2024, 2, 29)),
                                           ("0001-01-01", date(1, 1, 1)), ("9999-12-31", date(9999, 12, 31))])
def test_a_date_is_yyyy_mm_dd(text, day):
    assert inputs.as_date(text) == day and inputs.parse_date(text, "birth_date") == day


@pytest.mark.parametrize("text", ["", "20261121", "2026-W47-6", "2026-11-21T00:00", "2026-1-21", " 2026-11-21",
                                  "2026-11-21 ", "2025-02-29", "2026-13-01", "2026-00-10", "2026-11-31",
                                  "２０２６-１１-２１", "x" * 10_000])
def test_anything_else_is_no_date(text):
    assert inputs.as_date(text) is None
    assert refused(lambda: inputs.parse_date(text, "service_date")) == [
        {"field": "service_date", "code": "invalid", "message": "expected YYYY-MM-DD"}]


# --- rule 2: periods --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["2026-01", "2026-09", "2026-10", "2026-12", "0001-01"])
def test_a_period_is_yyyy_mm(period):
    assert inputs.is_period(period) is True


@pytest.mark.parametrize("period", ["2026-00", "2026-13", "2026-1", "2026-001", "202601", "2026/01", "", "2026-01 ",
                                    "２０２６-０１", "x" * 10_000])
def test_anything_else_is_no_period(period):
    assert inputs.is_period(period) is False


def test_up_to_120_periods_may_be_asked_for():
    inputs.check_periods([])
    inputs.check_periods(["2026-01"] * inputs.MAX_PERIODS)


def test_more_periods_or_a_malformed_one_are_refused():
    assert refused(lambda: inputs.check_periods(["2026-01"] * 121)) == [
        {"field": "periods", "code": "invalid", "message": "at most 120 periods"}]
    assert refused(lambda: inputs.check_periods(["2026-01", "2026-13"])) == [
        {"field": "periods", "code": "invalid", "message": "YYYY-MM"}]


# --- rule 3: ids ------------------------------------------------------------------------------------------------


ID = uuid.UUID("6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b")


@pytest.mark.parametrize("text", [str(ID), str(ID).upper(), ID.hex, "{" + str(ID) + "}", "urn:uuid:" + str(ID)])
def test_an_id_is_a_uuid_in_any_of_its_spellings(text):
    assert inputs.as_uuid(text) == ID


@pytest.mark.parametrize("text", ["", "not-a-uuid", str(ID)[:-1], str(ID) + "0", "urn:uuid:", "\ud800" * 32,
                                  "x" * 10_000])
def test_anything_else_names_nothing(text):
    assert inputs.as_uuid(text) is None


def test_invalid_names_the_field_with_its_code():
    error = inputs.invalid("noka", "13 digits")
    assert error.code == "VALIDATION_ERROR" and error.fields == {
        "errors": [{"field": "noka", "code": "invalid", "message": "13 digits"}]}
    assert inputs.invalid("noka", "required", code="required").fields["errors"][0]["code"] == "required"
