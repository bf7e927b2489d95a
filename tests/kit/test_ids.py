"""The shape of the identifiers clients send (services/kit/ids.py): pure functions, no server."""

from __future__ import annotations

import uuid

import pytest

from services.kit import ids

NIK = "3171011501800001"   # Budi (CONTRACT.md §6)
NOKA = "0001234567801"


def test_sixteen_digits_are_a_nik():
    assert ids.identifier_kind(NIK) == "nik"
    assert ids.is_nik(NIK) and not ids.is_noka(NIK)


def test_thirteen_digits_are_a_noka():
    assert ids.identifier_kind(NOKA) == "noka"
    assert ids.is_noka(NOKA) and not ids.is_nik(NOKA)


def test_the_lengths_are_16_and_13():
    assert (ids.NIK_LENGTH, ids.NOKA_LENGTH) == (16, 13)


@pytest.mark.parametrize("length", [0, 1, 12, 14, 15, 17, 20])
def test_any_other_number_of_digits_is_neither(length):
    digits = ("1234567890" * 2)[:length]
    assert ids.identifier_kind(digits) is None
    assert not ids.is_nik(digits) and not ids.is_noka(digits)


@pytest.mark.parametrize("identifier", [
    "dewi@example.id",
    "317101150180000a",         # 16 characters, one a letter
    "000123456780 ",            # 13 characters with a space
    " 0001234567801",           # a NOKA with a leading space is 14 characters, not a NOKA
    "-317101150180001",         # 16 characters with a sign
    "+001234567801",            # 13 characters with a sign
])
def test_anything_but_digits_is_neither(identifier):
    assert ids.identifier_kind(identifier) is None


@pytest.mark.parametrize("identifier", [
    "３１７１０１１５０１８００００１",  # 16 full-width digits
    "０００１２３４５６７８０１",       # 13 full-width digits
    "٣١٧١٠١١٥٠١٨٠٠٠٠١",              # 16 Arabic-Indic digits
    "²³⁴⁵⁶⁷⁸⁹²³⁴⁵⁶",                # 13 superscript digits (str.isdigit() says yes)
])
def test_only_ascii_digits_count(identifier):
    assert identifier.isdigit() and len(identifier) in (13, 16)
    assert ids.identifier_kind(identifier) is None
    assert not ids.is_nik(identifier) and not ids.is_noka(identifier)


def test_a_uuid_in_any_spelling_the_database_reads_is_a_uuid():
    value = uuid.uuid4()
    for spelling in (str(value), value.hex, str(value).upper(), f"{{{value}}}"):
        assert ids.is_uuid(spelling) is True


@pytest.mark.parametrize("value", ["", "not-a-uuid", "1234", str(uuid.uuid4())[:-1], None, 42,
                                   f"urn:uuid:{uuid.uuid4()}", f"{{{uuid.uuid4()}", f"{{{{{uuid.uuid4()}}}}}",
                                   f"{uuid.uuid4()}\n"])
def test_anything_else_is_not_a_uuid_and_never_raises(value):
    assert ids.is_uuid(value) is False
