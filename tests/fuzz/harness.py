"""`make fuzz`: schemathesis against the gateway of a whole local stack, logged in as a demo account.

The stack is the one the end-to-end tests run (services/devstack/launch.py: separate processes on
free ports, a fresh data dir), with the per-IP and per-account rate limits raised and the captcha
off for this run only (FUZZ_ENV), since every request the fuzzer sends comes from 127.0.0.1 and one
account. Schemathesis runs the examples, coverage, fuzzing and stateful phases with the checks
`not_a_server_error`, `status_code_conformance`, `content_type_conformance` and
`response_schema_conformance` (tests/fuzz/schemathesis.toml) until ``--max-time`` is spent; the auth
hook is tests/fuzz/hooks.py (Dewi, and Rudi for the routes that end sessions). Any finding (or an
error of the run itself) fails it.

    python -m tests.fuzz [--seconds 300] [--seed N] [--out var/fuzz] [-- extra schemathesis args]

Left in ``--out``: ``schemathesis.out`` (its full report, every finding with a curl line),
``summary.txt`` (what is printed at the end), ``findings.json``, the NDJSON/JSON reports, the
crash cache for ``st replay`` and the stack's logs.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.devstack.launch import ROOT, Stack, start_stack

CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Raised for the fuzz run only: the fuzzer is one client IP and one account sending thousands of requests.
FUZZ_ENV = {
    "JKN_CAPTCHA": "off",
    "JKN_GATEWAY_AUTH_RATE_PER_MIN": "1000000",
    "JKN_GATEWAY_BOOKING_RATE_PER_MIN": "1000000",
    "JKN_NOTIFY_OTP_CLIENT_IP_1H": "1000000",
}
BODY_PREVIEW = 300


def start_fuzz_stack(directory: Path) -> Stack:
    return start_stack(directory, **FUZZ_ENV)


@dataclass
class Finding:
    operation: str
    check: str
    code: str
    title: str
    message: str
    request: str
    status: int | None
    response: str
    count: int = 1

    def key(self) -> tuple:
        return self.operation, self.code, self.status, self.message.splitlines()[0] if self.message else ""


@dataclass
class FuzzResult:
    command: list[str]
    exit_code: int
    seconds: float
    report: dict[str, Any]
    findings: list[Finding]
    operations: list[str]
    auth: dict[str, Any]
    server_tracebacks: dict[str, int] = field(default_factory=dict)
    out_dir: Path | None = None
    stack_ready_s: float | None = None

    @property
    def ok(self) -> bool:
        return (self.exit_code == 0 and not self.findings and not self.report.get("errors")
                and bool(self.report.get("complete")))

    def summary(self) -> str:
        report = self.report
        cases = report.get("test_cases") or {}
        operations = report.get("operations") or {}
        phases = report.get("phases") or {}
        lines = [
            "== make fuzz: schemathesis against the gateway (logged in as Dewi; Rudi for the session-ending routes)",
            f"command:     {' '.join(self.command)}",
            f"seed:        {report.get('seed')}   ran {report.get('running_time', 0):.0f} s "
            f"(stop: {report.get('stop_reason')}), {self.seconds:.0f} s with its start and report"
            + (f"; the stack was ready in {self.stack_ready_s:.0f} s" if self.stack_ready_s is not None else ""),
            "phases:      " + ", ".join(f"{name} {p['status']}" for name, p in phases.items()),
            f"test cases:  {cases.get('generated', 0)} generated, {cases.get('with_failures', 0)} with findings, "
            f"{cases.get('errored', 0)} errored",
            f"operations:  {operations.get('tested', 0)} tested of {operations.get('selected', 0)} selected "
            f"({operations.get('total', 0)} in the schema; /dev/* left out)",
            "             " + ", ".join(self.operations),
            f"auth:        {self.auth}",
        ]
        if self.server_tracebacks:
            lines.append(f"tracebacks in the stack's logs: {self.server_tracebacks}")
        for error in report.get("errors") or []:
            lines.append(f"RUN ERROR: {error['title']} ×{error['count']}")
        lines.append(f"findings:    {len(self.findings)} distinct"
                     + ("" if self.findings else " — none"))
        for finding in self.findings:
            lines += [f"  - {finding.operation}: {finding.code} {finding.title} ({finding.check}) ×{finding.count}",
                      "      " + finding.message.replace("\n", "; "),
                      f"      request:  {finding.request}",
                      f"      response: {finding.status} {finding.response}"]
        if self.out_dir is not None:
            lines.append(f"details:     {self.out_dir}/schemathesis.out (curl line of every finding), "
                         f"{self.out_dir}/findings.json")
        lines.append("RESULT: " + ("PASS — zero findings" if self.ok else "FAIL"))
        return "\n".join(lines)


def _decode(payload: dict | None) -> str:
    """A recorded body as text, or as a bytes literal when it is not UTF-8 (so it can be sent again)."""
    if not payload:
        return ""
    if "$base64" not in payload:
        return json.dumps(payload)
    raw = base64.b64decode(payload["$base64"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return repr(raw)
    return text if text.isprintable() else repr(raw)


def _request_line(interaction: dict) -> str:
    request = interaction.get("request") or {}
    headers = {k: v[0] if isinstance(v, list) and len(v) == 1 else v
               for k, v in (request.get("headers") or {}).items()}
    body = _decode(request.get("body"))
    shown = {k: v for k, v in headers.items() if k.lower() not in {"user-agent", "accept", "accept-encoding",
                                                                     "connection", "content-length",
                                                                     "x-schemathesis-testcaseid"}}
    text = f"{request.get('method')} {request.get('uri')}"
    if shown:
        text += " " + json.dumps(shown)
    if body:
        text += " body=" + (body if len(body) <= BODY_PREVIEW else body[:BODY_PREVIEW] + "…")
    return text


def parse_events(ndjson: Path) -> tuple[list[Finding], list[str]]:
    """The distinct findings (by operation, failure code, status and message) and the operations tested."""
    findings: dict[tuple, Finding] = {}
    operations: set[str] = set()
    with ndjson.open() as events:
        for line in events:
            event = json.loads(line)
            scenario = event.get("ScenarioFinished")
            if scenario is None:
                continue
            recorder = scenario.get("recorder") or {}
            if scenario.get("phase") != "stateful" and scenario.get("status") != "skip":
                operations.add(recorder.get("label", "?"))
            interactions = recorder.get("interactions") or {}
            for case_id, checks in (recorder.get("checks") or {}).items():
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    failure = (check.get("failure_info") or {}).get("failure") or {}
                    interaction = interactions.get(case_id) or {}
                    response = interaction.get("response") or {}
                    body = _decode(response.get("content"))
                    finding = Finding(
                        operation=failure.get("operation") or recorder.get("label", "?"),
                        check=check.get("name", "?"), code=failure.get("code", "?"),
                        title=failure.get("title", "?"), message=(failure.get("message") or "").strip(),
                        request=_request_line(interaction), status=response.get("status_code"),
                        response=body if len(body) <= BODY_PREVIEW else body[:BODY_PREVIEW] + "…")
                    if finding.key() in findings:
                        findings[finding.key()].count += 1
                    else:
                        findings[finding.key()] = finding
    ordered = sorted(findings.values(), key=lambda f: (f.code, f.operation, f.status or 0))
    return ordered, sorted(operations, key=lambda label: (label.split(" ", 1)[-1], label))


def _tracebacks(logs: Path) -> dict[str, int]:
    counts = Counter()
    for log in sorted(logs.glob("*.log")):
        counts[log.stem] = log.read_text(errors="replace").count("Traceback (most recent call last)")
    return {name: n for name, n in counts.items() if n}


def run_schemathesis(gateway: str, *, seconds: int, out_dir: Path, seed: int | None = None,
                     extra_args: list[str] | None = None, echo: bool = False, logs: Path | None = None,
                     stack_ready_s: float | None = None) -> FuzzResult:
    """Run schemathesis against ``gateway`` for ``seconds`` and collect what it found."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    reports = out_dir / "reports"
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
               f"{gateway}/openapi.json", "--max-time", str(seconds), "--report", "ndjson,json",
               "--report-dir", str(reports), "--no-color"]
    if seed is not None:
        command += ["--seed", str(seed)]
    command += extra_args or []
    env = {**os.environ, "JKN_FUZZ_GATEWAY": gateway, "JKN_FUZZ_OUT": str(out_dir),
           "JKN_FUZZ_AUTH_STATS": str(out_dir / "auth.json"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.monotonic()
    with (out_dir / "schemathesis.out").open("w") as transcript:
        process = subprocess.Popen(command, cwd=out_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, text=True, errors="replace")
        assert process.stdout is not None
        for line in process.stdout:
            transcript.write(line)
            if echo:
                sys.stdout.write(line)
                sys.stdout.flush()
        exit_code = process.wait()
    elapsed = time.monotonic() - started
    report_files = sorted(reports.glob("json-*.json"))
    report = json.loads(report_files[-1].read_text()) if report_files else {"errors": [
        {"title": f"schemathesis wrote no report (exit {exit_code}); see {out_dir / 'schemathesis.out'}", "count": 1}]}
    events = sorted(reports.glob("ndjson-*.ndjson"))
    findings, operations = parse_events(events[-1]) if events else ([], [])
    auth = json.loads((out_dir / "auth.json").read_text()) if (out_dir / "auth.json").exists() else {}
    auth["reauth_on_401"] = (report.get("auth") or {}).get("reauth_count", 0)
    tracebacks = {}
    if logs is not None and logs.is_dir():
        shutil.copytree(logs, out_dir / "logs")
        tracebacks = _tracebacks(logs)
    result = FuzzResult(command=["schemathesis", *command[3:]], exit_code=exit_code, seconds=elapsed, report=report,
                        findings=findings, operations=operations, auth=auth, server_tracebacks=tracebacks,
                        out_dir=out_dir, stack_ready_s=stack_ready_s)
    (out_dir / "findings.json").write_text(json.dumps([f.__dict__ for f in findings], indent=2) + "\n")
    (out_dir / "summary.txt").write_text(result.summary() + "\n")
    return result


def fuzz(seconds: int, out_dir: Path, *, seed: int | None = None, extra_args: list[str] | None = None,
         echo: bool = False) -> FuzzResult:
    """A fresh stack (rate limits raised), schemathesis against it, the stack stopped again."""
    with tempfile.TemporaryDirectory(prefix="jkn-fuzz-") as scratch:
        stack = start_fuzz_stack(Path(scratch))
        try:
            ready_s = stack.wait_ready(timeout_s=120)
            return run_schemathesis(stack.gateway, seconds=seconds, out_dir=out_dir, seed=seed,
                                    extra_args=extra_args, echo=echo, logs=stack.data_dir / "logs",
                                    stack_ready_s=ready_s)
        finally:
            stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS") or 300),
                        help="schemathesis --max-time (default: FUZZ_SECONDS or 300)")
    parser.add_argument("--seed", type=int, default=int(os.environ["FUZZ_SEED"]) if os.environ.get("FUZZ_SEED")
                        else None, help="schemathesis --seed (default: FUZZ_SEED or a random one, printed)")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "fuzz", help="where the reports go")
    parser.add_argument("extra", nargs="*", help="further schemathesis run options (after --)")
    args = parser.parse_args(argv)
    result = fuzz(args.seconds, args.out, seed=args.seed, extra_args=args.extra, echo=True)
    sys.stdout.write("\n" + result.summary() + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
