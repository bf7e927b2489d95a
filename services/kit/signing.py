"""Ed25519 signing keys with key ids, and the public JWKS others verify with.

Used for access tokens (auth) and digital cards (membership). Rules: sign with the newest
key (EdDSA, ``kid`` in the header); publish every configured key, so whatever was signed
before a rotation stays verifiable until it expires. In dev a key is derived from the dev
secret so it survives restarts; in prod real PEM keys are required (the settings refuse
``dev-`` values).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.kit.startup import StartupError

_PEM_BLOCK = re.compile(r"-----BEGIN PRIVATE KEY-----.+?-----END PRIVATE KEY-----", re.S)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_private(cls, key: Ed25519PrivateKey) -> SigningKey:
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(kid=_b64url(hashlib.sha256(raw).digest())[:16], private_key=key)

    def public_jwk(self) -> dict[str, str]:
        raw = self.private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                          serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": self.kid, "alg": "EdDSA", "use": "sig"}


def load_signing_keys(secret: str, *, setting: str = "signing keys", allow_derived: bool = True) -> list[SigningKey]:
    """PEM keys (newest first), or — only where ``allow_derived`` (dev and test) — one key derived
    from a dev secret. In prod anything but Ed25519 PEM keys is a start-up error naming ``setting``,
    never a key silently made from whatever string was configured."""
    blocks = _PEM_BLOCK.findall(secret)
    if blocks:
        keys = []
        for block in blocks:
            try:
                key = serialization.load_pem_private_key(block.encode(), password=None)
            except ValueError as error:
                raise StartupError(f"{setting}: not a readable PEM private key") from error
            if not isinstance(key, Ed25519PrivateKey):
                raise StartupError(f"{setting}: keys must be Ed25519")
            keys.append(SigningKey.from_private(key))
        return keys
    if not allow_derived:
        raise StartupError(f"{setting}: expected Ed25519 private keys in PEM (JKN_ENV=prod derives no dev key)")
    seed = hashlib.sha256(secret.encode()).digest()
    return [SigningKey.from_private(Ed25519PrivateKey.from_private_bytes(seed))]


def jwks(keys: list[SigningKey]) -> dict[str, list[dict[str, str]]]:
    return {"keys": [k.public_jwk() for k in keys]}


def jwks_message_fields(keys: list[SigningKey]) -> dict:
    """The fields of a ``Get…KeysResponse``/``GetJwksResponse``: the JWKS as JSON and as messages."""
    import json

    from jkn.common.v1 import common_pb2

    document = jwks(keys)
    return {"jwks_json": json.dumps(document), "keys": [common_pb2.PublicJwk(**key) for key in document["keys"]]}
