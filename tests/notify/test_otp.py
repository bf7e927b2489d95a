"""The one-time-code rules (services/notify/otp.py): pure functions, no server.

The Redis-backed engine (services/notify/otp_store.py) is tested in test_otp_store.py.
"""

from __future__ import annotations

import hmac

import phonenumbers
import pytest

from services.notify import otp

KEY = otp.parse_code_keys("k1:test-secret")[0]
NONCE = bytes(16)  # any fixed nonce: a code is a pure function of key, verification and nonce


def parse(channel: str, raw: str, *, countries: frozenset[int] = frozenset({62}), prefix_digits: int = 7
          ) -> otp.Destination:
    return otp.parse_destination(channel, raw, allowed_country_codes=countries, prefix_digits=prefix_digits)


# --- code keys -------------------------------------------------------------------------------


def test_code_keys_are_read_newest_first_with_their_key_ids():
    assert otp.parse_code_keys("k2:secret2,k1:secret1") == [otp.CodeKey("k2", b"secret2"),
                                                             otp.CodeKey("k1", b"secret1")]


def test_a_bare_code_key_gets_the_key_id_k0():
    assert otp.parse_code_keys("just-a-secret") == [otp.CodeKey("k0", b"just-a-secret")]


def test_bare_code_keys_are_numbered_by_their_position():
    assert otp.parse_code_keys("new,k7:middle,old") == [otp.CodeKey("k0", b"new"), otp.CodeKey("k7", b"middle"),
                                                        otp.CodeKey("k2", b"old")]


def test_a_code_key_secret_may_contain_colons():
    assert otp.parse_code_keys("k1:a:b:c") == [otp.CodeKey("k1", b"a:b:c")]


def test_spaces_and_empty_entries_in_the_code_key_list_are_ignored():
    assert otp.parse_code_keys(" k2:two , ,k1:one,") == [otp.CodeKey("k2", b"two"), otp.CodeKey("k1", b"one")]


@pytest.mark.parametrize("value", ["", "  ", ", ,"])
def test_at_least_one_code_key_is_required(value):
    with pytest.raises(ValueError) as caught:
        otp.parse_code_keys(value)
    assert str(caught.value) == "at least one OTP code key is required"


# --- rule 2: codes are derived, never stored --------------------------------------------------


def test_a_nonce_is_128_random_bits():
    nonces = {otp.new_nonce() for _ in range(20)}
    assert len(nonces) == 20
    assert {len(nonce) for nonce in nonces} == {16}


def test_codes_are_six_digits_derived_per_verification_and_compared_strictly():
    nonce = otp.new_nonce()
    code = otp.derive_code(KEY, "v1", nonce)
    assert len(code) == 6 and code.isdigit()
    assert otp.derive_code(KEY, "v1", nonce) == code  # a resend sends the same code
    assert otp.derive_code(KEY, "v2", nonce) != code or otp.derive_code(KEY, "v3", nonce) != code
    assert otp.code_matches(KEY, "v1", nonce, f" {code} ")
    assert not otp.code_matches(KEY, "v1", nonce, code[:5])
    assert not otp.code_matches(otp.CodeKey("k2", b"other"), "v1", nonce, code)


# HMAC-SHA256(secret, "jkn-otp-code|" + verification id + "|" + nonce): the first 8 bytes, big-endian,
# modulo 10⁶, zero-padded. Pinned, because a change of the derivation would void every code in flight.
@pytest.mark.parametrize(("key", "verification_id", "nonce", "code"), [
    (KEY, "v1", NONCE, "287868"),
    (KEY, "v2", NONCE, "687991"),
    (otp.CodeKey("k2", b"other"), "v1", NONCE, "675167"),
    (KEY, "v1", (18).to_bytes(16, "big"), "007961"),  # leading zeros are kept
])
def test_a_code_is_the_hmac_of_verification_and_nonce_under_the_key(key, verification_id, nonce, code):
    assert otp.derive_code(key, verification_id, nonce) == code


def test_the_key_id_does_not_change_the_code():
    assert otp.derive_code(otp.CodeKey("other-kid", b"test-secret"), "v1", NONCE) == "287868"


def test_the_right_code_matches():
    assert otp.code_matches(KEY, "v1", NONCE, "287868")


def test_surrounding_spaces_of_a_submitted_code_are_ignored():
    assert otp.code_matches(KEY, "v1", NONCE, "  287868\n")


@pytest.mark.parametrize("submitted", [
    "287869",  # one digit off
    "28786",  # too short
    "2878680",  # the right code and one digit more
    "0287868",
    "",
    "28786x",
])
def test_a_wrong_code_does_not_match(submitted):
    assert not otp.code_matches(KEY, "v1", NONCE, submitted)


def test_a_code_of_another_verification_or_nonce_does_not_match():
    assert not otp.code_matches(KEY, "v2", NONCE, "287868")
    assert not otp.code_matches(KEY, "v1", (1).to_bytes(16, "big"), "287868")


@pytest.mark.parametrize("submitted", ["éééééé", "ⅠⅡⅢⅣⅤⅥ", "é", "2878é8"])
def test_non_ascii_input_never_matches_and_never_fails(submitted):
    assert not otp.code_matches(KEY, "v1", NONCE, submitted)


@pytest.mark.parametrize("submitted", ["287868", "000000", "1", "abcdef", "éé", "28786800"])
def test_codes_are_compared_in_constant_time_as_six_characters(monkeypatch, submitted):
    compared, real_compare_digest = [], hmac.compare_digest

    def compare_digest(a, b):
        compared.append((a, b))
        return real_compare_digest(a, b)

    monkeypatch.setattr(otp.hmac, "compare_digest", compare_digest)
    otp.code_matches(KEY, "v1", NONCE, submitted)
    assert len(compared) == 1
    expected, candidate = compared[0]
    assert expected == "287868"
    assert len(candidate) == 6 and candidate.isascii()


# --- rule 2: what a check compares is the code's verifier --------------------------------------

# HMAC-SHA256(secret, "jkn-otp-verifier|" + verification id + "|" + code), hex. Pinned, because the
# verifier of every verification in flight was stored at issue: a change of it would void them all.
@pytest.mark.parametrize(("key", "verification_id", "code", "expected"), [
    (KEY, "v1", "287868", "8af67fe0a255b822312374b5506cbb7980d9c81ddb2d470713444eb51055f3e3"),
    (KEY, "v2", "287868", "41d35a05e891a188c09b78f36d6b3fef2807adc7f80f2980e65872f9e19b45ae"),
    (KEY, "v1", "287869", "f5613f1d5d102068be3f5a0401c1fe6234ec40cc9964be0edc7abccd0fa78158"),
    (otp.CodeKey("k2", b"other"), "v1", "287868", "e311aedd93d8778b6e9c83fcf4da757316dcae83e94712e5a479e4b226cd8239"),
])
def test_a_verifier_is_the_keyed_hmac_of_verification_and_code(key, verification_id, code, expected):
    assert otp.verifier(key, verification_id, code) == expected


def test_a_verifier_is_not_the_code_and_ignores_the_key_id():
    assert otp.verifier(KEY, "v1", "287868") == otp.verifier(otp.CodeKey("other-kid", b"test-secret"), "v1", "287868")
    assert "287868" not in otp.verifier(KEY, "v1", "287868")


def test_the_right_code_submitted_gives_the_verifier_stored_at_issue():
    nonce = otp.new_nonce()
    code = otp.derive_code(KEY, "v1", nonce)
    stored = otp.verifier(KEY, "v1", code)  # what issue stores beside the nonce
    assert otp.candidate_verifiers([KEY], "v1", code) == ["k1", stored]
    assert otp.candidate_verifiers([KEY], "v1", f" {code}\n") == ["k1", stored]


def test_a_submitted_code_gets_a_verifier_under_every_key_newest_first():
    keys = otp.parse_code_keys("k2:other,k1:test-secret")
    assert otp.candidate_verifiers(keys, "v1", "287868") == [
        "k2", "e311aedd93d8778b6e9c83fcf4da757316dcae83e94712e5a479e4b226cd8239",
        "k1", "8af67fe0a255b822312374b5506cbb7980d9c81ddb2d470713444eb51055f3e3"]


def test_a_candidate_verifier_is_bound_to_its_verification():
    assert otp.candidate_verifiers([KEY], "v2", "287868") == [
        "k1", "41d35a05e891a188c09b78f36d6b3fef2807adc7f80f2980e65872f9e19b45ae"]


def test_a_wrong_code_gets_another_verifier():
    assert otp.candidate_verifiers([KEY], "v1", "287869") == [
        "k1", "f5613f1d5d102068be3f5a0401c1fe6234ec40cc9964be0edc7abccd0fa78158"]


@pytest.mark.parametrize("submitted", ["28786", "2878680", "0287868", "", "   ", "28786x", "abcdef", "２８７８６８",
                                       "2878６８", "٢٨٧٨６８", "éééééé", "2878 68"])
def test_anything_but_six_ascii_digits_gets_no_verifier_under_any_key(submitted):
    keys = otp.parse_code_keys("k2:other,k1:test-secret")
    assert otp.candidate_verifiers(keys, "v1", submitted) == ["k2", "", "k1", ""]


def test_a_destination_hash_is_a_keyed_pseudonym_of_32_hex_digits():
    assert otp.destination_hash(KEY, "+6281234500006") == "6eddb6fe92f3c894597ac3ff87525424"
    assert otp.destination_hash(KEY, "dewi@example.id") == "57d38faf47aa5a73f3c66632e4738d59"


def test_a_destination_hash_depends_on_the_key_and_the_destination():
    hashed = otp.destination_hash(KEY, "+6281234500006")
    assert otp.destination_hash(otp.CodeKey("k2", b"other"), "+6281234500006") != hashed
    assert otp.destination_hash(KEY, "+6281234500007") != hashed
    assert otp.destination_hash(KEY, "+6281234500006") == hashed


# --- rule 3: lifetimes ------------------------------------------------------------------------


def test_an_sms_code_lives_the_sms_lifetime():
    assert otp.lifetime_s("sms", sms_s=300, email_s=600) == 300


def test_an_email_code_lives_the_email_lifetime():
    assert otp.lifetime_s("email", sms_s=300, email_s=600) == 600


# --- destinations (rule 5: allowed countries) --------------------------------------------------


def test_destinations_are_normalised_and_limited_to_allowed_countries():
    parse = lambda channel, raw: otp.parse_destination(  # noqa: E731
        channel, raw, allowed_country_codes=frozenset({62}), prefix_digits=7)
    assert parse("sms", "081234500006") == otp.Destination("sms", "+6281234500006", "6281234")
    assert parse("email", "Dewi@Example.ID").address == "dewi@example.id"
    for channel, raw in (("sms", "+14155550100"), ("sms", "12"), ("email", "no-at-sign")):
        with pytest.raises(otp.DestinationRejected):
            parse(channel, raw)


def test_an_email_address_is_trimmed_and_lower_cased_without_a_prefix():
    assert parse("email", "  Dewi.Lestari@Example.CO.ID \n") == otp.Destination("email", "dewi.lestari@example.co.id",
                                                                                "")


@pytest.mark.parametrize("raw", ["no-at-sign", "dewi@localhost", "dewi lestari@example.id", "@example.id",
                                 "dewi@example..id", "dewi@exa_mple.id", f"{'d' * 65}@example.id", ""])
def test_a_malformed_email_address_is_rejected(raw):
    with pytest.raises(otp.DestinationRejected) as caught:
        parse("email", raw)
    assert str(caught.value) == "not an email address"


def test_an_email_address_may_have_a_64_character_local_part():
    assert parse("email", f"{'d' * 64}@example.id").address == f"{'d' * 64}@example.id"


@pytest.mark.parametrize("raw", ["081234500006", "+6281234500006", "+62 812-3450-0006", " 0812 3450 0006 "])
def test_an_indonesian_number_is_normalised_to_e164(raw):
    assert parse("sms", raw) == otp.Destination("sms", "+6281234500006", "6281234")


@pytest.mark.parametrize(("prefix_digits", "prefix"), [(4, "6281"), (7, "6281234"), (9, "628123450")])
def test_the_number_prefix_is_the_first_digits_after_the_plus(prefix_digits, prefix):
    assert parse("sms", "081234500006", prefix_digits=prefix_digits).number_prefix == prefix


def test_a_number_of_another_country_is_rejected():
    with pytest.raises(otp.DestinationRejected) as caught:
        parse("sms", "+14155550100")
    assert str(caught.value) == "country not allowed"


def test_a_number_of_an_allowed_other_country_is_accepted():
    assert parse("sms", "+14155550100", countries=frozenset({1, 62}), prefix_digits=4) == otp.Destination(
        "sms", "+14155550100", "1415")


def test_an_indonesian_number_is_rejected_when_indonesia_is_not_allowed():
    with pytest.raises(otp.DestinationRejected) as caught:
        parse("sms", "081234500006", countries=frozenset({1}))
    assert str(caught.value) == "country not allowed"


@pytest.mark.parametrize("raw", ["12", "08123", "+62 12345"])
def test_an_invalid_phone_number_is_rejected(raw):
    with pytest.raises(otp.DestinationRejected) as caught:
        parse("sms", raw)
    assert str(caught.value) == "not a valid phone number"


@pytest.mark.parametrize("raw", ["not a number", "", "+"])
def test_text_that_is_no_phone_number_is_rejected(raw):
    with pytest.raises(otp.DestinationRejected) as caught:
        parse("sms", raw)
    assert str(caught.value) == "not a phone number"
    assert isinstance(caught.value.__cause__, phonenumbers.NumberParseException)


def test_an_email_address_is_no_phone_number():
    with pytest.raises(otp.DestinationRejected):
        parse("sms", "dewi@example.id")


@pytest.mark.parametrize("submitted", ["２８７８６８", "2878６８", "٢٨٧٨٦٨"])
def test_non_ascii_digits_never_match_and_never_fail(submitted):
    key = otp.parse_code_keys("k:secret")[0]
    assert otp.code_matches(key, "v-1", b"n" * 16, submitted) is False


@pytest.mark.parametrize(("channel", "raw"), [("email", "not-an-email"), ("sms", "not a number"),
                                              ("sms", "0000000000000000000")])
def test_a_malformed_destination_is_bad_input(channel, raw):
    with pytest.raises(otp.DestinationRejected) as rejected:
        parse(channel, raw)
    assert rejected.value.malformed is True


def test_a_valid_number_of_another_country_is_not_allowed_but_not_malformed():
    with pytest.raises(otp.DestinationRejected) as rejected:
        parse("sms", "+14155550100")
    assert rejected.value.malformed is False and str(rejected.value) == "country not allowed"


def test_a_rejection_is_malformed_unless_told_otherwise():
    assert otp.DestinationRejected("x").malformed is True
