"""Auth's business metrics. Labels are outcomes only — never an identifier, an account or a device.

- ``auth_logins_total{result}``: ``succeeded``, ``invalid_credentials`` (a wrong password or an
  unknown identifier: the same answer), ``locked`` (refused while the lockout lasts),
  ``captcha_required``. A rise of ``invalid_credentials`` against ``succeeded`` is credential
  stuffing; of ``locked``, someone guessing one account.
- ``auth_account_recoveries_total{step}``: ``started`` (every start, real or not: the same
  answer), ``scheduled`` (both codes right), ``cancelled`` (by the holder), ``applied`` (the
  phone replaced). Many ``cancelled`` against ``scheduled`` means someone else holds emails.
"""

from __future__ import annotations

from prometheus_client import Counter

LOGIN_RESULTS = ("succeeded", "invalid_credentials", "locked", "captcha_required")

LOGINS = Counter("auth_logins_total", "Login attempts, by outcome.", ["result"])

for _result in LOGIN_RESULTS:  # every series exists from the start, at zero
    LOGINS.labels(_result)


_REFUSALS = {"INVALID_CREDENTIALS": "invalid_credentials", "ACCOUNT_LOCKED": "locked",
             "CAPTCHA_REQUIRED": "captcha_required"}


def login_refused(code: str) -> None:
    """Count a refused login by its contract code; other failures (a dependency down) are not outcomes."""
    if code in _REFUSALS:
        LOGINS.labels(_REFUSALS[code]).inc()


RECOVERY_STEPS = ("started", "scheduled", "cancelled", "applied")
RECOVERIES = Counter("auth_account_recoveries_total", "Account recoveries, by step reached.", ["step"])
for _step in RECOVERY_STEPS:
    RECOVERIES.labels(_step)
