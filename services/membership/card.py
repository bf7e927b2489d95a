"""The digital JKN card (KIS digital).

- Rule 1: the card's QR code holds a compact JWS (EdDSA, ``kid`` in the header) whose claims
  are the NOKA, name, care class, FKTP code and an expiry; a hospital verifies it offline
  against the public keys at ``GET /v1/card-keys``. Any altered field breaks the signature.
- Rule 2: a card is valid for ``validity`` (30 days by default) and is simply fetched again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt

from services.kit.signing import SigningKey

CARD_TYPE = "jkn-card+jwt"


def card_claims(*, noka: str, name: str, care_class: int, fktp_code: str, issued_at: datetime,
                validity: timedelta) -> dict[str, object]:
    return {"noka": noka, "name": name, "class": care_class, "fktp": fktp_code,
            "iat": int(issued_at.timestamp()), "exp": int((issued_at + validity).timestamp())}


def sign_card(key: SigningKey, claims: dict[str, object]) -> str:
    """Rule 1: the QR payload (header.claims.signature)."""
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, "typ": CARD_TYPE})
