"""The digital JKN card (services/membership/card.py): its claims and its JWS, pure, no server.

A hospital verifies a card offline against the published public key (``GET /v1/card-keys``), so
the tests verify with PyJWT against the public key only, never with the private key.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import jwt
import pytest

from services.kit.signing import SigningKey, jwks, load_signing_keys
from services.membership import card

JAKARTA = timezone(timedelta(hours=7))
ISSUED = datetime(2031, 3, 14, 9, 26, 53, tzinfo=JAKARTA)  # any instant: the card's times come from it
ISSUED_S = 1_931_221_613  # ISSUED as a Unix time
THIRTY_DAYS = timedelta(days=30)
NO_CLOCK = {"verify_exp": False, "verify_iat": False}  # the tests check the times, not today's date


@pytest.fixture
def key() -> SigningKey:
    return load_signing_keys("dev-card-key")[0]


def claims_for(**overrides) -> dict[str, object]:
    arguments = {"noka": "0001234567890", "name": "Dewi Lestari", "care_class": 3, "fktp_code": "0114U015",
                 "issued_at": ISSUED, "validity": THIRTY_DAYS} | overrides
    return card.card_claims(**arguments)


def verified(token: str, key: SigningKey) -> dict:
    """The claims, after checking the signature against the public key alone."""
    return jwt.decode(token, key.private_key.public_key(), algorithms=["EdDSA"], options=NO_CLOCK)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- rule 1: the claims ----------------------------------------------------------------------


def test_the_claims_are_noka_name_class_fktp_and_the_times():
    assert claims_for() == {"noka": "0001234567890", "name": "Dewi Lestari", "class": 3, "fktp": "0114U015",
                            "iat": ISSUED_S, "exp": ISSUED_S + 30 * 86_400}


def test_the_issue_time_is_whole_seconds_since_the_epoch():
    assert ISSUED.timestamp() == ISSUED_S
    claims = claims_for(issued_at=ISSUED + timedelta(microseconds=999_999))
    assert claims["iat"] == ISSUED_S and isinstance(claims["iat"], int)
    assert claims["exp"] == ISSUED_S + 30 * 86_400 and isinstance(claims["exp"], int)


def test_the_times_do_not_depend_on_the_time_zone_of_the_issue_time():
    assert claims_for(issued_at=ISSUED.astimezone(UTC)) == claims_for()


# --- rule 2: validity ------------------------------------------------------------------------


@pytest.mark.parametrize("validity", [THIRTY_DAYS, timedelta(days=1), timedelta(hours=6), timedelta(seconds=1)])
def test_a_card_expires_its_validity_after_it_was_issued(validity):
    claims = claims_for(validity=validity)
    assert claims["exp"] == claims["iat"] + int(validity.total_seconds()) == ISSUED_S + validity.total_seconds()


# --- rule 1: the signature -------------------------------------------------------------------


def test_a_card_is_a_compact_jws_of_three_parts(key):
    assert len(card.sign_card(key, claims_for()).split(".")) == 3


def test_a_signed_card_verifies_against_the_public_key_and_carries_every_claim(key):
    claims = claims_for()
    assert verified(card.sign_card(key, claims), key) == claims == {
        "noka": "0001234567890", "name": "Dewi Lestari", "class": 3, "fktp": "0114U015",
        "iat": ISSUED_S, "exp": ISSUED_S + 30 * 86_400}


def test_a_card_header_names_the_algorithm_the_key_and_the_card_type(key):
    assert jwt.get_unverified_header(card.sign_card(key, claims_for())) == {
        "alg": "EdDSA", "kid": key.kid, "typ": "jkn-card+jwt"}
    assert card.CARD_TYPE == "jkn-card+jwt"


def test_a_hospital_verifies_a_card_with_the_published_key_of_its_kid(key):
    other = load_signing_keys("dev-another-card-key")[0]
    token = card.sign_card(key, claims_for())
    published = {jwk["kid"]: jwt.PyJWK(jwk) for jwk in jwks([other, key])["keys"]}
    public = published[jwt.get_unverified_header(token)["kid"]]
    assert jwt.decode(token, public, algorithms=["EdDSA"], options=NO_CLOCK) == claims_for()


def test_a_card_signed_with_another_key_does_not_verify(key):
    other = load_signing_keys("dev-another-card-key")[0]
    with pytest.raises(jwt.InvalidSignatureError):
        verified(card.sign_card(other, claims_for()), key)


@pytest.mark.parametrize(("claim", "value"), [
    ("noka", "0009999999999"), ("name", "Dewi Lestary"), ("class", 1), ("fktp", "0114U016"),
    ("iat", ISSUED_S + 1), ("exp", ISSUED_S + 365 * 86_400)])
def test_an_altered_claim_breaks_the_signature(key, claim, value):
    header, payload, signature = card.sign_card(key, claims_for()).split(".")
    altered = json.loads(unb64url(payload)) | {claim: value}
    forged = ".".join([header, b64url(json.dumps(altered, separators=(",", ":")).encode()), signature])
    with pytest.raises(jwt.InvalidSignatureError):
        verified(forged, key)


def test_an_altered_header_breaks_the_signature(key):
    header, payload, signature = card.sign_card(key, claims_for()).split(".")
    altered = json.loads(unb64url(header)) | {"kid": "someone-else"}
    forged = ".".join([b64url(json.dumps(altered, separators=(",", ":")).encode()), payload, signature])
    with pytest.raises(jwt.InvalidSignatureError):
        verified(forged, key)

