"""Enrolment rules 1 and 4, the checks that need no database (services/membership/enrolment_rules.py):
no server.

`validate_application` is given the Jakarta calendar date; the tests give it a fixed one.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.kit.errors import DomainError, ValidationFailed
from services.membership import enrolment_rules

KK = "3171010101800001"
TODAY = date(2026, 11, 21)


def member(nik: str, name: str, born: date, sex: str, relation: str) -> dict:
    return {"nik": nik, "name": name, "birth_date": born, "sex": sex, "relation": relation}


def nik_of(born: date, *, sex: str = "M", serial: int = 1) -> str:
    """A valid NIK (Jakarta Pusat) for this birth date and sex."""
    day = born.day + (40 if sex == "F" else 0)
    return f"317101{day:02d}{born:%m%y}{serial:04d}"


BUDI = member("3171011501800001", "BUDI SANTOSO", date(1980, 1, 15), "M", "HEAD")
SRI = member("3171015203820002", "SRI RAHAYU", date(1982, 3, 12), "F", "SPOUSE")
ANDI = member("3171012107100003", "ANDI SANTOSO", date(2010, 7, 21), "M", "CHILD")


CONTACTS = {"address": "Jl. Cikini Raya No. 99", "phone": "081298765432", "email": "keluarga@example.id"}


def errors_of(*, kk_number: str = KK, care_class: int = 2, members: list[dict] | None = None,
              **contacts: str) -> list[dict]:
    """The validation errors of an application ([] when it is acceptable)."""
    try:
        enrolment_rules.validate_application(kk_number=kk_number, care_class=care_class, **{**CONTACTS, **contacts},
                                             members=[BUDI, SRI, ANDI] if members is None else members, today=TODAY)
    except ValidationFailed as failed:
        assert failed.code == "VALIDATION_ERROR"
        return failed.fields["errors"]
    return []


def test_a_family_with_one_head_and_valid_niks_is_acceptable():
    assert errors_of() == []


def test_a_family_of_one_is_acceptable():
    assert errors_of(members=[BUDI]) == []


# --- the family card and the class ------------------------------------------------------------------


@pytest.mark.parametrize("kk", ["0001234567801", "317101010180000", "31710101018000011", "317101010180000x", ""])
def test_the_family_card_number_is_16_digits(kk):
    assert errors_of(kk_number=kk) == [{"field": "kk_number", "code": "invalid", "message": "16 digits"}]


@pytest.mark.parametrize("care_class", [1, 2, 3])
def test_care_classes_are_1_2_and_3(care_class):
    assert errors_of(care_class=care_class) == []


@pytest.mark.parametrize("care_class", [0, 4, -1])
def test_any_other_class_is_refused(care_class):
    assert errors_of(care_class=care_class) == [{"field": "class", "code": "invalid", "message": "1, 2 or 3"}]


# --- members: how many, and one head -----------------------------------------------------------------


def family_of(size: int) -> list[dict]:
    born = date(1980, 1, 15)
    return [member(nik_of(born, serial=i + 1), f"MEMBER {i + 1}", born, "M", "HEAD" if i == 0 else "CHILD")
            for i in range(size)]


def test_a_family_of_10_is_acceptable():
    assert errors_of(members=family_of(10)) == []


def test_a_family_of_11_is_too_big():
    assert errors_of(members=family_of(11)) == [{"field": "members", "code": "invalid", "message": "1 to 10 members"}]


def test_the_members_of_a_family_too_big_are_not_looked_at():
    members = [{**m, "nik": "x", "relation": "?"} for m in family_of(10_000)]
    assert errors_of(kk_number="1", members=members) == [
        {"field": "kk_number", "code": "invalid", "message": "16 digits"},
        {"field": "members", "code": "invalid", "message": "1 to 10 members"}]


def test_an_application_without_members_is_refused():
    assert errors_of(members=[]) == [{"field": "members", "code": "invalid", "message": "1 to 10 members"},
                                     {"field": "members", "code": "invalid", "message": "exactly one HEAD"}]


def test_a_family_needs_a_head():
    assert errors_of(members=[SRI, ANDI]) == [{"field": "members", "code": "invalid", "message": "exactly one HEAD"}]


def test_a_family_has_only_one_head():
    second_head = {**SRI, "relation": "HEAD"}
    assert errors_of(members=[BUDI, second_head]) == \
        [{"field": "members", "code": "invalid", "message": "exactly one HEAD"}]


@pytest.mark.parametrize("relation", ["HEAD", "SPOUSE", "CHILD", "OTHER"])
def test_the_known_relations(relation):
    assert errors_of(members=[BUDI, {**SRI, "relation": relation}]) == \
        ([{"field": "members", "code": "invalid", "message": "exactly one HEAD"}] if relation == "HEAD" else [])


@pytest.mark.parametrize("relation", ["COUSIN", "head", "", "?"])
def test_an_unknown_relation_is_refused(relation):
    assert errors_of(members=[BUDI, {**SRI, "relation": relation}]) == \
        [{"field": "members.1.relation", "code": "invalid", "message": "unknown relation"}]


# --- members: NIKs ----------------------------------------------------------------------------------------


def test_each_nik_problem_is_reported_for_its_member():
    wrong_sex = {**ANDI, "sex": "F"}
    assert errors_of(members=[BUDI, SRI, wrong_sex]) == \
        [{"field": "members.2.nik", "code": "sex_mismatch", "message": "NIK not acceptable"}]


def test_a_nik_must_agree_with_the_members_birth_date():
    wrong_day = {**BUDI, "birth_date": date(1980, 1, 16)}
    assert errors_of(members=[wrong_day]) == \
        [{"field": "members.0.nik", "code": "birth_date_mismatch", "message": "NIK not acceptable"}]


def test_every_problem_of_one_nik_is_reported():
    bad = {**BUDI, "nik": "9971011501800000"}
    assert errors_of(members=[bad]) == [
        {"field": "members.0.nik", "code": "unknown_region", "message": "NIK not acceptable"},
        {"field": "members.0.nik", "code": "serial_zero", "message": "NIK not acceptable"},
    ]


def test_a_repeated_nik_is_refused_on_its_second_appearance():
    assert errors_of(members=[BUDI, SRI, {**BUDI, "relation": "CHILD"}]) == \
        [{"field": "members.2.nik", "code": "repeated", "message": "NIK not acceptable"}]


def test_a_nik_that_is_not_16_digits():
    assert errors_of(members=[BUDI, {**SRI, "nik": "0001234567802"}]) == \
        [{"field": "members.1.nik", "code": "not_16_digits", "message": "NIK not acceptable"}]


# --- members: names and birth dates ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["A", "X" * 100, " BUDI "])
def test_a_name_is_1_to_100_characters(name):
    assert errors_of(members=[{**BUDI, "name": name}]) == []


@pytest.mark.parametrize("name", ["", "   ", "X" * 101])
def test_an_empty_or_too_long_name_is_refused(name):
    assert errors_of(members=[{**BUDI, "name": name}]) == \
        [{"field": "members.0.name", "code": "invalid", "message": "1 to 100 characters"}]


def test_a_baby_born_today_may_be_enrolled():
    baby = member(nik_of(TODAY, sex="F", serial=4), "BAYI", TODAY, "F", "CHILD")
    assert errors_of(members=[BUDI, baby]) == []


def test_a_birth_date_that_is_no_date_is_refused_and_the_nik_is_not_compared_with_it():
    assert errors_of(members=[BUDI, {**SRI, "birth_date": None}]) == \
        [{"field": "members.1.birth_date", "code": "invalid", "message": "expected YYYY-MM-DD"}]


def test_a_member_born_in_1900_may_be_enrolled_but_not_before():
    born = enrolment_rules.OLDEST_BIRTH_DATE
    assert errors_of(members=[BUDI, member(nik_of(born, serial=5), "NENEK", born, "M", "OTHER")]) == []
    earlier = born - timedelta(days=1)  # 31 Dec 1899: the NIK says 311299
    assert errors_of(members=[BUDI, member(nik_of(earlier, serial=5), "BUYUT", earlier, "M", "OTHER")]) == \
        [{"field": "members.1.birth_date", "code": "invalid", "message": "before 1900"}]


@pytest.mark.parametrize("sex", ["?", "", "m", "L", None])
def test_a_sex_other_than_m_or_f_is_refused_and_the_nik_is_not_compared_with_it(sex):
    assert errors_of(members=[BUDI, {**SRI, "sex": sex}]) == \
        [{"field": "members.1.sex", "code": "invalid", "message": "M or F"}]


def test_a_birth_date_in_the_future_is_refused():
    future = TODAY + timedelta(days=1)
    unborn = member(nik_of(future, serial=4), "BELUM LAHIR", future, "M", "CHILD")
    assert errors_of(members=[BUDI, unborn]) == \
        [{"field": "members.1.birth_date", "code": "invalid", "message": "in the future"}]


# --- everything at once -------------------------------------------------------------------------------------


def test_every_error_of_an_application_is_reported_at_once_in_order():
    members = [{**BUDI, "relation": "SPOUSE"}, {**SRI, "nik": BUDI["nik"], "name": "", "relation": "AUNT"}]
    assert errors_of(kk_number="123", care_class=9, members=members, address="", phone="", email="") == [
        {"field": "kk_number", "code": "invalid", "message": "16 digits"},
        {"field": "class", "code": "invalid", "message": "1, 2 or 3"},
        {"field": "address", "code": "invalid", "message": "5 to 300 characters"},
        {"field": "phone", "code": "invalid", "message": "a mobile number 08… or +628…"},
        {"field": "email", "code": "invalid", "message": "an email address"},
        {"field": "members", "code": "invalid", "message": "exactly one HEAD"},
        {"field": "members.1.nik", "code": "birth_date_mismatch", "message": "NIK not acceptable"},
        {"field": "members.1.nik", "code": "sex_mismatch", "message": "NIK not acceptable"},
        {"field": "members.1.nik", "code": "repeated", "message": "NIK not acceptable"},
        {"field": "members.1.name", "code": "invalid", "message": "1 to 100 characters"},
        {"field": "members.1.relation", "code": "invalid", "message": "unknown relation"},
    ]


# --- contacts ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["Jl. A", " " * 10 + "Jl. A", "x" * 300])
def test_an_address_is_5_to_300_characters(address):
    assert errors_of(address=address) == []


@pytest.mark.parametrize("address", ["", "Jl.", "    Jl.   ", "x" * 301])
def test_a_shorter_or_longer_address_is_refused(address):
    assert errors_of(address=address) == [{"field": "address", "code": "invalid", "message": "5 to 300 characters"}]


@pytest.mark.parametrize("phone", ["081298765432", "+6281298765432", " 0812-9876-5432 "])
def test_a_mobile_phone_is_08_or_plus_628(phone):
    assert errors_of(phone=phone) == []


@pytest.mark.parametrize("phone", ["", "12345", "+14155550100", "0215550100", "0812", "x" * 300, "+62812"])
def test_any_other_phone_is_refused(phone):
    assert errors_of(phone=phone) == [{"field": "phone", "code": "invalid", "message": "a mobile number 08… or +628…"}]


@pytest.mark.parametrize("email", ["a@b.id", "keluarga.baru@example.id", "a@b." + "c" * 250])
def test_an_email_address(email):
    assert errors_of(email=email) == []


@pytest.mark.parametrize("email", ["", "keluarga", "a@b", "a b@c.id", "a@b@c.id", "@b.id", "a@.id", "a@b." + "c" * 251])
def test_anything_else_is_not_an_email_address(email):
    assert errors_of(email=email) == [{"field": "email", "code": "invalid", "message": "an email address"}]


def test_an_application_expires_after_24_hours():  # rule 2 (used by the enrolment use case)
    assert enrolment_rules.APPLICATION_LIFETIME.total_seconds() == 24 * 3600


# --- NIKs already registered ------------------------------------------------------------------------------------


def test_niks_already_registered_are_counted_but_not_named():
    error = enrolment_rules.already_registered(["3171011501800001", "3171015203820002"])
    assert isinstance(error, DomainError) and error.code == "ALREADY_REGISTERED"
    assert error.detail == "2 NIK(s) already registered" and error.fields == {}
    assert "3171011501800001" not in str(error)


# --- rule 4: the captcha --------------------------------------------------------------------------------------


def test_with_the_captcha_on_an_application_needs_a_passed_one():
    with pytest.raises(DomainError) as refused:
        enrolment_rules.require_captcha(captcha_on=True, captcha_passed=False)
    assert refused.value.code == "CAPTCHA_REQUIRED" and refused.value.fields == {}
    assert refused.value.detail == "captcha required"


@pytest.mark.parametrize(("captcha_on", "captcha_passed"), [(True, True), (False, False), (False, True)])
def test_a_passed_captcha_or_the_captcha_off_lets_it_through(captcha_on, captcha_passed):
    enrolment_rules.require_captcha(captcha_on=captcha_on, captcha_passed=captcha_passed)
