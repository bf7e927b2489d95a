"""Passwords and PINs (CONTRACT.md §3).

- Rule 1: 8–128 characters with at least one lower-case letter, one upper-case letter and one
  digit.
- Rule 2: it must not contain the NIK, the NOKA or the birth date (DDMMYYYY or YYYYMMDD).
- Rule 3: it must not be on the common-password list (compared case-insensitively).
- Rule 4: passwords and PINs are stored as argon2id hashes (parameters from settings, at
  least m=19 MiB, t=2, p=1) and re-hashed on login when the parameters change.
- Rule 5: an unknown identifier is checked against a dummy hash, so the time an answer
  takes does not tell whether an account exists.
"""

from __future__ import annotations

import asyncio
from datetime import date
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.kit.errors import DomainError


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    return frozenset(line.strip().lower() for line in
                     (Path(__file__).parent / "common_passwords.txt").read_text().splitlines() if line.strip())


def password_problems(password: str, *, nik: str, noka: str, birth_date: date) -> list[str]:
    """Rules 1–3: the reasons a password is refused (empty when it is acceptable)."""
    reasons = []
    if not 8 <= len(password) <= 128:
        reasons.append("LENGTH")
    if not any(c.islower() for c in password):
        reasons.append("NO_LOWERCASE")
    if not any(c.isupper() for c in password):
        reasons.append("NO_UPPERCASE")
    if not any(c.isdigit() for c in password):
        reasons.append("NO_DIGIT")
    personal = {nik, noka, birth_date.strftime("%d%m%Y"), birth_date.strftime("%Y%m%d")}
    if any(part and part in password for part in personal):
        reasons.append("CONTAINS_PERSONAL_DATA")
    if password.lower() in common_passwords():
        reasons.append("COMMON_PASSWORD")
    return reasons


def require_strong(password: str, *, nik: str, noka: str, birth_date: date) -> None:
    reasons = password_problems(password, nik=nik, noka=noka, birth_date=birth_date)
    if reasons:
        raise DomainError("password too weak", code="WEAK_PASSWORD", reasons=reasons)


class Hasher:
    """Rules 4 and 5."""

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int):
        self._hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
        self._dummy = self._hasher.hash("jkn-dummy-password-for-unknown-accounts")

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, stored: str | None, secret: str) -> bool:
        """True when ``secret`` matches; an absent hash costs the same time as a real one."""
        try:
            return self._hasher.verify(stored or self._dummy, secret) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)

    async def hash_async(self, secret: str) -> str:
        """Off the event loop: argon2id takes tens of milliseconds of CPU by design."""
        return await asyncio.to_thread(self.hash, secret)

    async def verify_async(self, stored: str | None, secret: str) -> bool:
        return await asyncio.to_thread(self.verify, stored, secret)


PIN_LENGTH = 6


def pin_problems(pin: str) -> list[str]:
    """PIN rules (CONTRACT.md §3): 6 digits, not one digit repeated, not an ascending or
    descending run (123456, 987654)."""
    if len(pin) != PIN_LENGTH or not pin.isdigit() or not pin.isascii():
        return ["NOT_6_DIGITS"]
    reasons = []
    if len(set(pin)) == 1:
        reasons.append("REPEATED_DIGIT")
    steps = {int(b) - int(a) for a, b in pairwise(pin)}
    if steps in ({1}, {-1}):
        reasons.append("SEQUENCE")
    return reasons
