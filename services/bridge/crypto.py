"""BPJS's response encoding (CONTRACT.md §8), with well-kept libraries (`lzstring`, `cryptography`).

Rule: ``response`` = base64(AES-256-CBC(PKCS#7(LZString.compressToEncodedURIComponent(JSON))))
with key = SHA-256(cons_id + secret + X-timestamp) and IV = the key's first 16 bytes — the
timestamp being the request's own ``X-timestamp`` as sent, so only that request's sender can
read the answer.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import lzstring
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_LZ = lzstring.LZString()


def key_of(cons_id: str, secret: str, timestamp: str) -> bytes:
    """The AES-256 key of one request's answer."""
    return hashlib.sha256(f"{cons_id}{secret}{timestamp}".encode()).digest()


def encrypt(payload: Any, *, cons_id: str, secret: str, timestamp: str) -> str:
    """The rule, for any JSON-able payload."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    compressed = _LZ.compressToEncodedURIComponent(text).encode()
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(compressed) + padder.finalize()
    key = key_of(cons_id, secret, timestamp)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def decrypt(response: str, *, cons_id: str, secret: str, timestamp: str) -> Any:
    """The inverse (what a SIMRS does; used by the tests and for diagnosis)."""
    key = key_of(cons_id, secret, timestamp)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(base64.b64decode(response)) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    compressed = (unpadder.update(padded) + unpadder.finalize()).decode()
    return json.loads(_LZ.decompressFromEncodedURIComponent(compressed))
