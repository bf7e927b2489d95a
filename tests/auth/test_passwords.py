"""Password and PIN rules and the argon2id hasher (services/auth/passwords.py, CONTRACT.md §3).

Pure functions and a library call: no server. The hasher runs with tiny argon2 parameters so
each hash takes microseconds.
"""

from __future__ import annotations

from datetime import date

import argon2
import pytest

from services.auth import passwords
from services.auth.passwords import Hasher, password_problems, pin_problems
from services.kit.errors import DomainError

# Dewi (CONTRACT.md §6): her NIK, NOKA and birth date must not appear in her password.
NIK, NOKA, BORN = "5171014408950006", "0004567890006", date(1995, 8, 4)


def problems(password: str, *, nik: str = NIK, noka: str = NOKA, birth_date: date = BORN) -> list[str]:
    return password_problems(password, nik=nik, noka=noka, birth_date=birth_date)


# --- rule 1: length and character classes ---------------------------------------------------


def test_a_password_with_lower_upper_and_digit_is_acceptable():
    assert problems("Sehat#2026") == []


def test_exactly_8_characters_is_long_enough_and_7_is_not():
    assert problems("Abcdef12") == []
    assert problems("Abcde12") == ["LENGTH"]


def test_exactly_128_characters_is_allowed_and_129_is_too_long():
    longest = "Aa1" + "x" * 125
    assert len(longest) == 128 and problems(longest) == []
    assert problems(longest + "x") == ["LENGTH"]


def test_a_password_needs_a_lower_case_letter():
    assert problems("SEHAT#2026") == ["NO_LOWERCASE"]


def test_a_password_needs_an_upper_case_letter():
    assert problems("sehat#2026") == ["NO_UPPERCASE"]


def test_a_password_needs_a_digit():
    assert problems("Sehat#Selalu") == ["NO_DIGIT"]


def test_one_character_of_each_class_is_enough():
    assert problems("a" + "B" + "3" + "#" * 5) == []


def test_an_empty_password_breaks_every_rule_of_rule_1_in_order():
    assert problems("") == ["LENGTH", "NO_LOWERCASE", "NO_UPPERCASE", "NO_DIGIT"]


# --- rule 2: no personal data ---------------------------------------------------------------


@pytest.mark.parametrize("personal", [NIK, NOKA, "04081995", "19950804"], ids=["nik", "noka", "ddmmyyyy", "yyyymmdd"])
def test_a_password_must_not_contain_the_nik_the_noka_or_the_birth_date(personal):
    assert problems(f"Ab{personal}") == ["CONTAINS_PERSONAL_DATA"]


def test_other_date_formats_of_the_birth_date_are_not_refused():
    assert problems("Ab4/8/1995x") == []
    assert problems("Ab950804xy") == []  # YYMMDD is not one of the refused forms


def test_an_unknown_noka_refuses_nothing_on_its_own():
    """A participant without a card number yet: the empty NOKA is not 'contained' in every password."""
    assert problems("Sehat#2026", noka="") == []
    assert problems("Sehat#2026", nik="", noka="") == []


# --- rule 3: the common-password list -------------------------------------------------------


def test_a_common_password_is_refused():
    assert problems("Password1") == ["COMMON_PASSWORD"]


def test_the_common_password_list_is_compared_case_insensitively():
    assert problems("pASSWORD1") == ["COMMON_PASSWORD"]
    assert problems("INDONESIa1") == ["COMMON_PASSWORD"]  # "Indonesia1" on the list


def test_the_common_password_list_is_lower_case_and_has_no_blank_entries():
    common = passwords.common_passwords()
    assert "password1" in common and "indonesia1" in common
    assert all(entry == entry.strip().lower() and entry for entry in common)


def test_every_reason_is_given_at_once():
    assert problems("19950804") == ["NO_LOWERCASE", "NO_UPPERCASE", "CONTAINS_PERSONAL_DATA"]


def test_require_strong_accepts_a_strong_password():
    passwords.require_strong("Sehat#2026", nik=NIK, noka=NOKA, birth_date=BORN)


def test_require_strong_refuses_with_weak_password_and_the_reasons():
    with pytest.raises(DomainError) as caught:
        passwords.require_strong("password1", nik=NIK, noka=NOKA, birth_date=BORN)
    assert caught.value.code == "WEAK_PASSWORD"
    assert caught.value.fields == {"reasons": ["NO_UPPERCASE", "COMMON_PASSWORD"]}
    assert caught.value.detail == "password too weak"


@pytest.mark.parametrize("personal", [NIK, NOKA, "04081995"], ids=["nik", "noka", "birth_date"])
def test_require_strong_refuses_a_password_with_personal_data(personal):
    with pytest.raises(DomainError) as caught:
        passwords.require_strong(f"Ab{personal}", nik=NIK, noka=NOKA, birth_date=BORN)
    assert caught.value.fields == {"reasons": ["CONTAINS_PERSONAL_DATA"]}


# --- rules 4 and 5: argon2id hashes ---------------------------------------------------------


@pytest.fixture
def hasher() -> Hasher:
    """A new one per test (microseconds with these parameters), so every test exercises the constructor."""
    return Hasher(memory_kib=8, time_cost=1, parallelism=1)


def test_a_hash_is_argon2id_with_the_configured_parameters(hasher):
    assert hasher.hash("Sehat#2026").startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_the_same_secret_hashes_differently_each_time(hasher):
    assert hasher.hash("Sehat#2026") != hasher.hash("Sehat#2026")


def test_a_hash_verifies_its_secret_and_no_other(hasher):
    stored = hasher.hash("Sehat#2026")
    assert hasher.verify(stored, "Sehat#2026") is True
    assert hasher.verify(stored, "Sehat#2027") is False


def test_a_malformed_stored_hash_verifies_nothing(hasher):
    assert hasher.verify("not-a-hash", "Sehat#2026") is False


def test_an_absent_hash_verifies_nothing_not_even_the_dummy_password(hasher):
    assert hasher.verify(None, "anything") is False
    assert hasher.verify(None, "jkn-dummy-password-for-unknown-accounts") is False


def test_an_absent_hash_costs_a_real_argon2_verification(hasher, monkeypatch):
    """Rule 5: an unknown account is checked against a dummy hash with the same parameters."""
    checked = []
    real_verify = argon2.PasswordHasher.verify

    def spy(self, stored, secret):
        checked.append(stored)
        return real_verify(self, stored, secret)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    assert hasher.verify(None, "Sehat#2026") is False
    assert len(checked) == 1 and checked[0].startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_a_hash_made_with_other_parameters_needs_a_rehash(hasher):
    stronger = Hasher(memory_kib=16, time_cost=2, parallelism=1)
    assert hasher.needs_rehash(hasher.hash("Sehat#2026")) is False
    assert hasher.needs_rehash(stronger.hash("Sehat#2026")) is True


def test_a_hash_made_with_other_parameters_still_verifies(hasher):
    older = Hasher(memory_kib=16, time_cost=2, parallelism=1).hash("Sehat#2026")
    assert hasher.verify(older, "Sehat#2026") is True


async def test_hashing_and_verifying_off_the_event_loop(hasher):
    stored = await hasher.hash_async("Sehat#2026")
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert await hasher.verify_async(stored, "Sehat#2026") is True
    assert await hasher.verify_async(stored, "Sehat#2027") is False
    assert await hasher.verify_async(None, "Sehat#2026") is False


# --- PINs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("pin", ["240817", "121212", "024680", "112233", "000001", "998877"])
def test_a_pin_of_six_digits_without_a_pattern_is_acceptable(pin):
    assert pin_problems(pin) == []


@pytest.mark.parametrize("pin", ["000000", "111111", "999999"])
def test_a_pin_of_one_repeated_digit_is_weak(pin):
    assert pin_problems(pin) == ["REPEATED_DIGIT"]


@pytest.mark.parametrize("pin", ["123456", "012345", "456789"])
def test_an_ascending_run_is_weak(pin):
    assert pin_problems(pin) == ["SEQUENCE"]


@pytest.mark.parametrize("pin", ["987654", "543210", "654321"])
def test_a_descending_run_is_weak(pin):
    assert pin_problems(pin) == ["SEQUENCE"]


@pytest.mark.parametrize("pin", ["", "12345", "1234567", "12345a", "12 456", "-12345", "２４０８１７", "²⁴⁰⁸¹⁷"])
def test_a_pin_is_exactly_six_ascii_digits(pin):
    assert pin_problems(pin) == ["NOT_6_DIGITS"]

