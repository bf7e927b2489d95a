"""Access and refresh tokens (services/auth/tokens.py, CONTRACT.md §3): pure functions, no server."""

from __future__ import annotations

import hashlib
import re
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.auth import tokens
from services.kit.signing import SigningKey

ISSUED = 1_795_000_000  # any instant: the token's times are computed from the `now` given


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.from_private(Ed25519PrivateKey.generate())


def claims_of(token: str, key: SigningKey) -> dict:
    """The verified claims (the times are checked by the tests themselves, not against today)."""
    return jwt.decode(token, key.private_key.public_key(), algorithms=["EdDSA"],
                      options={"verify_exp": False, "verify_iat": False})


# --- rule 1: access tokens -------------------------------------------------------------------


def test_an_access_token_carries_sub_sid_jti_and_the_issuer(key):
    token, jti, _ = tokens.access_token(key, account_id="acc-1", session_id="ses-1", now=ISSUED)
    assert claims_of(token, key) == {"sub": "acc-1", "sid": "ses-1", "jti": jti, "iat": ISSUED,
                                     "exp": ISSUED + 900, "iss": "jkn-auth"}


def test_an_access_token_is_valid_900_seconds(key):
    token, _, exp = tokens.access_token(key, account_id="acc-1", session_id="ses-1", now=ISSUED)
    assert exp == ISSUED + 900 == claims_of(token, key)["exp"]
    assert tokens.ACCESS_TTL_S == 900


def test_the_lifetime_can_be_chosen(key):
    token, _, exp = tokens.access_token(key, account_id="acc-1", session_id="ses-1", now=ISSUED, ttl_s=60)
    assert exp == ISSUED + 60 == claims_of(token, key)["exp"]


def test_fractions_of_a_second_are_dropped_from_the_issue_time(key):
    token, _, exp = tokens.access_token(key, account_id="acc-1", session_id="ses-1", now=ISSUED + 0.9)
    assert claims_of(token, key)["iat"] == ISSUED and exp == ISSUED + 900


def test_without_a_time_the_token_is_issued_now(key):
    before = int(time.time())
    token, _, exp = tokens.access_token(key, account_id="acc-1", session_id="ses-1")
    after = int(time.time())
    assert before + 900 <= exp <= after + 900
    claims = jwt.decode(token, key.private_key.public_key(), algorithms=["EdDSA"])  # valid right now
    assert before <= claims["iat"] <= after


def test_the_participants_card_number_rides_along_when_known(key):
    with_noka, _, _ = tokens.access_token(key, account_id="acc-1", session_id="ses-1", noka="0004567890006",
                                          now=ISSUED)
    assert claims_of(with_noka, key)["noka"] == "0004567890006"
    for absent in (None, ""):
        token, _, _ = tokens.access_token(key, account_id="acc-1", session_id="ses-1", noka=absent, now=ISSUED)
        assert "noka" not in claims_of(token, key)


def test_an_access_token_is_signed_eddsa_with_the_keys_id(key):
    token, _, _ = tokens.access_token(key, account_id="acc-1", session_id="ses-1", now=ISSUED)
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}


def test_another_key_does_not_verify_the_token(key):
    token, _, _ = tokens.access_token(key, account_id="acc-1", session_id="ses-1", now=ISSUED)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, Ed25519PrivateKey.generate().public_key(), algorithms=["EdDSA"],
                   options={"verify_exp": False, "verify_iat": False})


def test_every_access_token_has_its_own_jti(key):
    (first, jti1, _), (second, jti2, _) = (tokens.access_token(key, account_id="acc-1", session_id="ses-1",
                                                               now=ISSUED) for _ in range(2))
    assert re.fullmatch(r"[0-9a-f]{32}", jti1) and jti1 != jti2 and first != second


# --- rule 2: refresh tokens ------------------------------------------------------------------


def test_a_refresh_token_is_256_random_bits_in_url_safe_text():
    token, _ = tokens.new_refresh_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 bytes, base64url without padding


def test_a_refresh_token_is_stored_only_as_its_sha256():
    token, stored = tokens.new_refresh_token()
    assert stored == hashlib.sha256(token.encode()).hexdigest() == tokens.refresh_hash(token)
    assert token not in stored


def test_the_refresh_hash_is_the_hex_sha256_of_the_token():
    assert tokens.refresh_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_every_refresh_token_is_new():
    assert len({tokens.new_refresh_token()[0] for _ in range(20)}) == 20


# --- rule 3: reuse of a rotated refresh token ----------------------------------------------------


@pytest.mark.parametrize(("seconds_after_rotation", "theft"), [
    (0, False), (9.999, False), (10, False), (10.001, True), (11, True), (3600, True),
])
def test_reusing_a_rotated_token_more_than_10_seconds_later_is_theft(seconds_after_rotation, theft):
    rotated = 1_795_000_000.5
    assert tokens.is_theft(rotated_at_s=rotated, now_s=rotated + seconds_after_rotation) is theft


def test_a_clock_that_went_backwards_is_not_theft():
    assert tokens.is_theft(rotated_at_s=1_795_000_100, now_s=1_795_000_000) is False
