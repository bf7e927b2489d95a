"""NIK rules (services/membership/identifiers.py): pure functions, no server.

A NIK is province (2) + regency (2) + district (2) + birth date DDMMYY (women add 40 to the
day) + a serial (4, not 0000).
"""

from __future__ import annotations

from datetime import date

import pytest

from services.kit import ids
from services.membership import identifiers
from services.membership.identifiers import nik_problems


def nik(*, province: str = "31", regency: str = "71", district: str = "01", ddmmyy: str = "150180",
        serial: str = "0001") -> str:
    return province + regency + district + ddmmyy + serial


@pytest.mark.parametrize(("nik", "born", "sex"), [
    ("3171011501800001", date(1980, 1, 15), "M"),   # Budi
    ("3171015203820002", date(1982, 3, 12), "F"),   # Sri: day 12 + 40
    ("5171014408950006", date(1995, 8, 4), "F"),    # Dewi: day 04 + 40
    ("3273024506850004", date(1985, 6, 5), "F"),    # Siti
])
def test_demo_niks_are_valid_and_agree_with_birth_date_and_sex(nik, born, sex):
    assert identifiers.nik_problems(nik, birth_date=born, sex=sex) == []


def test_nik_problems_are_named():
    assert identifiers.nik_problems("123") == ["not_16_digits"]
    assert "unknown_region" in identifiers.nik_problems("9971011501800001")
    assert "invalid_birth_date" in identifiers.nik_problems("3171013201800001")
    assert "serial_zero" in identifiers.nik_problems("3171011501800000")
    assert identifiers.nik_problems("3171011501800001", birth_date=date(1980, 1, 16)) == ["birth_date_mismatch"]
    assert identifiers.nik_problems("3171011501800001", sex="F") == ["sex_mismatch"]


def test_identifier_kinds():
    assert identifiers.identifier_kind("3171011501800001") == "nik"
    assert identifiers.identifier_kind("0001234567801") == "noka"
    assert identifiers.identifier_kind("dewi@example.id") is None
    assert identifiers.identifier_kind("１２３４５６７８９０１２３") is None  # full-width digits are not digits here


def test_the_shape_helpers_are_the_kits():
    assert (identifiers.identifier_kind, identifiers.is_nik, identifiers.is_noka) == \
        (ids.identifier_kind, ids.is_nik, ids.is_noka)


# --- rule 1: the shape, the region and the serial -----------------------------------------------


def test_a_valid_nik_without_birth_date_or_sex_to_compare_has_no_problems():
    assert nik_problems(nik()) == []


@pytest.mark.parametrize("value", ["0001234567801", "31710115018000011", "317101150180000a", "", " 3171011501800001"])
def test_a_nik_is_16_digits_and_nothing_else_is_checked_otherwise(value):
    assert nik_problems(value, birth_date=date(1980, 1, 15), sex="F") == ["not_16_digits"]


#: Kemendagri's province codes (kode wilayah), from Aceh to the Papua region with the provinces formed in 2022.
PROVINCES = {
    11: "Aceh", 12: "Sumatera Utara", 13: "Sumatera Barat", 14: "Riau", 15: "Jambi", 16: "Sumatera Selatan",
    17: "Bengkulu", 18: "Lampung", 19: "Kepulauan Bangka Belitung", 21: "Kepulauan Riau",
    31: "DKI Jakarta", 32: "Jawa Barat", 33: "Jawa Tengah", 34: "DI Yogyakarta", 35: "Jawa Timur", 36: "Banten",
    51: "Bali", 52: "Nusa Tenggara Barat", 53: "Nusa Tenggara Timur",
    61: "Kalimantan Barat", 62: "Kalimantan Tengah", 63: "Kalimantan Selatan", 64: "Kalimantan Timur",
    65: "Kalimantan Utara",
    71: "Sulawesi Utara", 72: "Sulawesi Tengah", 73: "Sulawesi Selatan", 74: "Sulawesi Tenggara", 75: "Gorontalo",
    76: "Sulawesi Barat", 81: "Maluku", 82: "Maluku Utara",
    **{code: f"Papua region {code}" for code in range(91, 98)},
}


@pytest.mark.parametrize("code", sorted(PROVINCES), ids=[PROVINCES[c] for c in sorted(PROVINCES)])
def test_every_province_is_a_known_region(code):
    assert nik_problems(nik(province=f"{code:02d}")) == []


def test_every_other_two_digit_code_is_an_unknown_region():
    unknown = [code for code in range(100) if code not in PROVINCES]
    assert len(unknown) == 100 - 39
    assert all(nik_problems(nik(province=f"{code:02d}")) == ["unknown_region"] for code in unknown)


@pytest.mark.parametrize("province", ["11", "12", "31", "36", "51", "65", "82", "91", "92", "97"])
def test_indonesian_provinces_are_known_regions(province):
    """From Aceh (11) to the Papua provinces formed in 2022 (92–97)."""
    assert nik_problems(nik(province=province)) == []


@pytest.mark.parametrize("province", ["00", "10", "20", "30", "37", "50", "66", "83", "90", "98", "99"])
def test_a_province_code_that_does_not_exist_is_an_unknown_region(province):
    assert nik_problems(nik(province=province)) == ["unknown_region"]


def test_regency_00_is_an_unknown_region():
    assert nik_problems(nik(regency="00")) == ["unknown_region"]
    assert nik_problems(nik(regency="01")) == []
    assert nik_problems(nik(regency="10")) == []


def test_district_00_is_not_checked():
    assert nik_problems(nik(district="00")) == []


def test_serial_0000_is_refused_and_any_other_serial_is_fine():
    assert nik_problems(nik(serial="0000")) == ["serial_zero"]
    for serial in ("0001", "0010", "1000", "9999"):
        assert nik_problems(nik(serial=serial)) == []


def test_every_problem_is_reported_in_order():
    assert nik_problems(nik(province="99", serial="0000", ddmmyy="320180")) == \
        ["unknown_region", "serial_zero", "invalid_birth_date"]


# --- rule 1: the birth date inside the NIK ---------------------------------------------------


@pytest.mark.parametrize("ddmmyy", [
    "000180",   # day 0
    "320180",   # 32 January
    "310480",   # 31 April
    "300280",   # 30 February
    "290285",   # 29 February of a common year
    "150080",   # month 0
    "151380",   # month 13
    "400180",   # day 40: not a man's day, and not a woman's (0 + 40)
    "720180",   # day 72: a woman's 32nd
    "710480",   # a woman's 31 April
])
def test_a_birth_date_that_does_not_exist_is_invalid(ddmmyy):
    assert nik_problems(nik(ddmmyy=ddmmyy)) == ["invalid_birth_date"]


@pytest.mark.parametrize("ddmmyy", ["010180", "311280", "300480", "290284", "290200", "410180", "711280", "690284"])
def test_a_birth_date_that_exists_is_valid(ddmmyy):
    """29 February in a leap year (1984 or 2000) exists, for men and women (+40)."""
    assert nik_problems(nik(ddmmyy=ddmmyy)) == []


def test_an_invalid_birth_date_is_not_compared_with_the_stated_one():
    assert nik_problems(nik(ddmmyy="320180"), birth_date=date(1990, 6, 6), sex="F") == ["invalid_birth_date"]


# --- rule 2: agreement with the stated birth date and sex --------------------------------------


def test_a_man_is_born_on_the_day_in_the_nik():
    assert nik_problems(nik(ddmmyy="010180"), birth_date=date(1980, 1, 1), sex="M") == []
    assert nik_problems(nik(ddmmyy="310180"), birth_date=date(1980, 1, 31), sex="M") == []


def test_a_woman_is_born_on_the_day_in_the_nik_minus_40():
    assert nik_problems(nik(ddmmyy="410180"), birth_date=date(1980, 1, 1), sex="F") == []
    assert nik_problems(nik(ddmmyy="710180"), birth_date=date(1980, 1, 31), sex="F") == []


@pytest.mark.parametrize("born", [
    date(1980, 1, 16),  # another day
    date(1980, 2, 15),  # another month
    date(1981, 1, 15),  # another year
    date(1970, 1, 15),  # another decade
])
def test_a_different_birth_date_is_a_mismatch(born):
    assert nik_problems(nik(ddmmyy="150180"), birth_date=born) == ["birth_date_mismatch"]


def test_the_century_is_not_in_the_nik():
    assert nik_problems(nik(ddmmyy="150180"), birth_date=date(2080, 1, 15)) == []
    assert nik_problems(nik(ddmmyy="150105"), birth_date=date(2005, 1, 15)) == []


def test_a_womans_nik_stated_as_a_man_is_a_mismatch_and_the_other_way_round():
    assert nik_problems(nik(ddmmyy="550180"), sex="M") == ["sex_mismatch"]
    assert nik_problems(nik(ddmmyy="550180"), sex="F") == []
    assert nik_problems(nik(ddmmyy="150180"), sex="F") == ["sex_mismatch"]
    assert nik_problems(nik(ddmmyy="150180"), sex="M") == []


def test_a_womans_birth_day_is_compared_after_taking_40_off_the_day_in_the_nik():
    assert nik_problems(nik(ddmmyy="550180"), birth_date=date(1980, 1, 15), sex="F") == []
    assert nik_problems(nik(ddmmyy="150180"), birth_date=date(1980, 1, 15), sex="F") == ["sex_mismatch"]
    assert nik_problems(nik(ddmmyy="550180"), birth_date=date(1980, 1, 16), sex="F") == ["birth_date_mismatch"]


def test_birth_date_and_sex_mismatch_together():
    assert nik_problems(nik(ddmmyy="150180"), birth_date=date(1980, 1, 16), sex="F") == \
        ["birth_date_mismatch", "sex_mismatch"]
