"""A short `make fuzz` inside `make test`: schemathesis against the whole stack's gateway, logged in as
the demo accounts, with the four checks and the four phases (tests/fuzz/harness.py), finds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.harness import fuzz

pytestmark = pytest.mark.e2e
SHORT_RUN_S = 30
#: A fixed seed keeps the suite's run repeatable; `make fuzz` draws a new one each time (FUZZ_SEED to repeat it).
SEED = 20260901


@pytest.mark.timeout(SHORT_RUN_S + 150)  # the stack's start, schemathesis' start and the report on top
def test_schemathesis_finds_nothing_in_a_short_run(tmp_path: Path):
    result = fuzz(SHORT_RUN_S, tmp_path / "fuzz", seed=SEED)
    assert (result.report.get("operations") or {}).get("tested", 0) > 0, result.summary()
    if not result.ok:
        pytest.fail(result.summary(), pytrace=False)
