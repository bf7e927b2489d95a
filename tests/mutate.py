"""Mutation testing of the pure rule modules, each against its own unit tests only (`make mutate`).

mutmut 3 makes the mutants (comparison operators flipped, integer literals bumped, ``and``/``or``
swapped, strings altered, arguments dropped, ``None`` returned, …; only code inside functions:
module-level constants are not mutated). One rule module is mutated per run, and every mutant
faces only that module's mirrored unit test files, so a rule counts as pinned only when its own
fast tests pin it, not when some far-away server test happens to call it.

mutmut reads one static configuration and works in a ``mutants/`` copy of the tree in its
working directory. So each module gets a scratch workspace outside the checkout (a snapshot of
``services/``, ``tests/`` and ``pyproject.toml`` with a ``[tool.mutmut]`` table for that module):
the checkout is never written to, and other people's edits during a run change nothing.

Usage (from the repository root)::

    .venv/bin/python -m tests.mutate                              # every rule module
    .venv/bin/python -m tests.mutate services/auth/tokens.py      # one module
    .venv/bin/python -m tests.mutate --keep /tmp/mut              # keep workspaces for `mutmut browse`

mutmut runs against a mutant only the tests it saw calling the mutated function. A fixture of a
wider scope than a test builds its object in the first test only, so objects whose constructor
holds rules (``Hasher``) belong in function-scoped fixtures.

The score is killed / all mutants (a timeout counts as killed; "no tests" and "survived" do
not). The exit status is 1 when any module scores below ``--min-score`` (default 90 %).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    module: str
    #: pytest selections (files or node ids) of the module's unit tests: no servers.
    tests: tuple[str, ...]
    #: only the mutants of these functions count (mutmut's names, e.g. ``x_key_of``); None: all.
    functions: tuple[str, ...] | None = None


TARGETS = (
    Target("services/auth/passwords.py", ("tests/auth/test_passwords.py",)),
    Target("services/auth/tokens.py", ("tests/auth/test_tokens.py",)),
    # The rest of lockout is Redis scripts, tested against a real redis-server in test_lockout.py.
    Target("services/auth/lockout.py", ("tests/auth/test_lockout.py::test_a_lock_key_is_a_hash_of_the_identifier",
                                        "tests/auth/test_lockout.py::test_a_lock_key_ignores_case_and_spaces",
                                        "tests/auth/test_lockout.py::test_an_account_has_one_hashed_key_of_its_own",
                                        "tests/auth/test_lockout.py::"
                                        "test_the_subject_is_the_account_once_resolved_else_the_identifier"),
           functions=("x_key_of", "x_account_key", "x_subject_key")),
    Target("services/kit/ids.py", ("tests/kit/test_ids.py",)),
    # The Redis-backed engine (otp_store.py) has its own tests in test_otp_store.py.
    Target("services/notify/otp.py", ("tests/notify/test_otp.py",)),
    Target("services/membership/identifiers.py", ("tests/membership/test_identifiers.py",)),
    Target("services/membership/fktp.py", ("tests/membership/test_fktp.py",)),
    Target("services/membership/premiums.py", ("tests/membership/test_premiums.py",)),
    Target("services/membership/payments.py", ("tests/membership/test_payments.py",)),
    Target("services/membership/enrolment_rules.py", ("tests/membership/test_enrolment_rules.py",)),
    Target("services/membership/card.py", ("tests/membership/test_card.py",)),
    Target("services/membership/inputs.py", ("tests/membership/test_inputs.py",)),
    Target("services/queue/rules.py", ("tests/queue/test_rules.py",)),
    # test_facilities.py also searches through a running queue service; only its pure tests here.
    Target("services/queue/facilities.py", ("tests/queue/test_facilities.py::test_distance_and_bounding_box",
                                            "tests/queue/test_facilities.py::test_distance_is_the_great_circle",
                                            "tests/queue/test_facilities.py::test_the_box_is_as_wide_as_the_circle",
                                            "tests/queue/test_facilities.py::test_the_box_at_a_pole_spans_every_longitude",
                                            "tests/queue/test_facilities.py::test_search_radius_defaults_and_cap")),
)

KILLED = {"killed", "timeout"}
SHOWN_DIFFS = 25  # per module (mutmut takes about a second per diff)
_IGNORE = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "mutants")


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def mutmut_table(target: Target) -> str:
    return "\n".join([
        "", "[tool.mutmut]",
        'source_paths = ["services"]',
        f"only_mutate = {json.dumps([target.module])}",
        f"pytest_add_cli_args_test_selection = {json.dumps(list(target.tests))}",
        # Unit tests need no fixture of the conftests, which import the servers (edited concurrently, slow).
        'pytest_add_cli_args = ["--noconftest", "-p", "no:cacheprovider"]',
        "use_git_change_detection = false",
        "",
    ])


def prepare(workspace: Path, target: Target) -> None:
    """A snapshot of the tree with a mutmut configuration for this one module."""
    for tree in ("services", "tests"):
        shutil.copytree(ROOT / tree, workspace / tree, ignore=_IGNORE)
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", pyproject)  # ours replaces any other
    (workspace / "pyproject.toml").write_text(pyproject + mutmut_table(target))


def mutmut(workspace: Path, *args: str, log: Path | None = None) -> subprocess.CompletedProcess:
    output = log.open("w") if log else subprocess.PIPE
    try:
        return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=workspace, text=True,
                              stdout=output, stderr=subprocess.STDOUT, check=False)
    finally:
        if log:
            output.close()


def changed_lines(workspace: Path, mutant: str) -> list[str]:
    """The lines a mutant changes, as ``-``/``+`` lines of its diff."""
    shown = mutmut(workspace, "show", mutant).stdout.splitlines()
    return [line for line in shown if line[:1] in "-+" and not line.startswith(("---", "+++"))]


@dataclass
class Score:
    module: str
    killed: int
    total: int
    survivors: list[tuple[str, str]]  # (mutant, status)
    seconds: float
    error: str | None = None

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 0.0


def mutate(target: Target, workspace: Path, max_children: int) -> Score:
    started = time.monotonic()
    prepare(workspace, target)
    globs = [f"{target.module[:-3].replace('/', '.')}.{f}__mutmut_*" for f in target.functions or ()]
    run = mutmut(workspace, "run", "--max-children", str(max_children), *globs, log=workspace / "mutmut.log")
    results = mutmut(workspace, "results", "--all", "true")
    statuses = dict(line.strip().rsplit(": ", 1) for line in results.stdout.splitlines() if ": " in line)
    if target.functions:
        wanted = [f"*.{f}__mutmut_*" for f in target.functions]
        statuses = {name: s for name, s in statuses.items() if any(fnmatch(name, w) for w in wanted)}
    error = None
    if run.returncode != 0 or not statuses:
        log = (workspace / "mutmut.log").read_text(errors="replace")
        error = f"mutmut run failed (exit {run.returncode}); end of its log:\n{log[-3000:]}"
    survivors = sorted((name, s) for name, s in statuses.items() if s not in KILLED)
    return Score(target.module, sum(s in KILLED for s in statuses.values()), len(statuses), survivors,
                 time.monotonic() - started, error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="rule modules to mutate (default: all)")
    parser.add_argument("--min-score", type=float, default=90.0, help="fail below this percentage")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2, help="parallel mutants")
    parser.add_argument("--keep", type=Path, help="keep the workspaces in this new directory")
    args = parser.parse_args(argv)

    known = {t.module: t for t in TARGETS}
    unknown = [m for m in args.modules if m not in known]
    if unknown:
        parser.error(f"not a rule module: {', '.join(unknown)} (known: {', '.join(known)})")
    targets = [known[m] for m in args.modules] if args.modules else list(TARGETS)

    base = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="jkn-mutate-"))
    base.mkdir(parents=True, exist_ok=not args.keep)
    scores = []
    try:
        for target in targets:
            workspace = base / target.module[:-3].replace("/", ".")
            say(f"== {target.module} (tests: {' '.join(target.tests)})")
            score = mutate(target, workspace, args.max_children)
            scores.append(score)
            if score.error:
                say(score.error)
            say(f"   {score.killed}/{score.total} killed, {score.percent:.1f} % ({score.seconds:.0f} s)")
            for index, (name, status) in enumerate(score.survivors):
                say(f"   {status}: {name}")
                if index < SHOWN_DIFFS:
                    for line in changed_lines(workspace, name):
                        say(f"       {line.strip()[:150]}")
    finally:
        if args.keep:
            say(f"\nworkspaces kept in {base} (cd there/<module> and run `mutmut browse`)")
        else:
            shutil.rmtree(base, ignore_errors=True)

    say("\nmutation scores (killed/total):")
    failed = False
    for score in scores:
        low = score.error is not None or score.percent < args.min_score
        failed |= low
        mark = "  BELOW " + f"{args.min_score:g} %" if low else ""
        say(f"  {score.module:<38} {score.killed:>4}/{score.total:<4} {score.percent:5.1f} %{mark}")
    say(f"total time {sum(s.seconds for s in scores):.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
