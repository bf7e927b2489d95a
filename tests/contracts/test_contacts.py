"""Contacts as the contract accepts and keeps them (CONTRACT.md §2)."""

from __future__ import annotations

from services.contracts.contacts import normalize_destination, normalize_phone


def test_destinations_are_normalised():
    assert normalize_destination("081234500006") == "+6281234500006"
    assert normalize_destination("+6281234500006") == "+6281234500006"
    assert normalize_destination(" Dewi.Lestari@Example.ID ") == "dewi.lestari@example.id"
    assert normalize_destination("not a number") == "not a number"


def test_a_phone_number_is_kept_in_e164_or_refused():
    assert normalize_phone("0812-3450-0006") == "+6281234500006"
    assert normalize_phone("+62 812 3450 0006") == "+6281234500006"
    assert normalize_phone("0000000000000000000") is None
    assert normalize_phone("") is None
    assert normalize_phone("12") is None
