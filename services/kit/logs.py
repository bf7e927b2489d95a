"""JSON logs as events, with trace ids and masked personal data.

Usage::

    log = get_logger(__name__)
    log.info("otp_issued", extra={"channel": "sms", "destination": mask_phone(phone)})

The message is the event name; ``extra`` holds structured fields. Every string that
reaches the output passes through `masking.scrub`, so a NIK, phone number or email that
slipped through unmasked is still masked. Secrets never belong in a log call at all.

Formatting is on the path of every RPC (the access log), so the formatter avoids repeated
work: the timestamp's seconds are formatted once per second, and a string that `scrub`
found nothing to mask in (an event name, an RPC name, a status code) is remembered as clean
in a small bounded set, so it is not scanned again; anything else is scrubbed every time.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import TextIO

from opentelemetry import trace

from services.kit.masking import scrub

# Attributes every LogRecord has; anything else came from `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_UNSCRUBBED = {"trace_id", "span_id"}
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)
_CLEAN_LIMIT = 4096
_clean_texts: set[str] = set()


def _scrub(text: str) -> str:
    """`scrub`, skipped for a string it already left unchanged (the set is bounded: when full it
    starts again, so free text that never repeats cannot grow it)."""
    if text in _clean_texts:
        return text
    scrubbed = scrub(text)
    if scrubbed == text:
        if len(_clean_texts) >= _CLEAN_LIMIT:
            _clean_texts.clear()
        _clean_texts.add(text)
    return scrubbed


class _Timestamps:
    """ISO-8601 UTC timestamps with milliseconds; the part up to the seconds made once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def format(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")[:-6]
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1000):03d}+00:00"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, service, logger, event, trace ids, fields."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service
        self._timestamps = _Timestamps()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": self._timestamps.format(record.created),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": _scrub(record.getMessage()),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _clean(key, value)
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        return _ENCODER.encode(entry)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal (``JKN_LOG_JSON=false``), scrubbed the same way."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{k}={_clean(k, v)}" for k, v in record.__dict__.items()
            if k not in _STANDARD and not k.startswith("_")
        )
        line = f"{record.levelname[:4]} {record.name}: {_scrub(record.getMessage())} {fields}".rstrip()
        if record.exc_info:
            line += "\n" + scrub(self.formatException(record.exc_info))
        return line


def _clean(key: str, value: object) -> object:
    if isinstance(value, str) and key not in _UNSCRUBBED:
        return _scrub(value)
    if isinstance(value, dict | list | tuple):
        return json.loads(scrub(json.dumps(value, default=str)))
    return value


class BatchedStreamHandler(logging.StreamHandler[TextIO]):
    """A stream handler that formats each record at once but writes the lines in batches: one
    write per batch instead of a write and a flush per line (on a busy server, a system call per
    request). A batch is written when it holds ``max_bytes``, when a warning or worse arrives (it
    is out at once, with what came before it), every ``interval_s`` by a background thread, and at
    exit; a crash that skips the interpreter's exit loses at most ``interval_s`` of lines."""

    def __init__(self, stream: TextIO, *, interval_s: float = 0.2, max_bytes: int = 64 * 1024):
        super().__init__(stream)
        self.max_bytes = max_bytes
        self._pending: list[str] = []
        self._size = 0
        self._stopped = threading.Event()
        threading.Thread(target=self._flush_every, args=(interval_s,), name="log-flush", daemon=True).start()
        atexit.register(self.close)

    def emit(self, record: logging.LogRecord) -> None:  # called under the handler's lock
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 - logging's own convention: report, never raise
            self.handleError(record)
            return
        self._pending.append(line)
        self._size += len(line)
        if self._size >= self.max_bytes or record.levelno >= logging.WARNING:
            self.flush()

    def flush(self) -> None:
        with self.lock, contextlib.suppress(OSError, ValueError):  # type: ignore[union-attr]
            # (the lock is made by Handler.__init__; OSError, ValueError: the stream is gone, a closed pipe at exit)
            if self._pending:
                lines, self._pending, self._size = "".join(self._pending), [], 0
                self.stream.write(lines)
            self.stream.flush()

    def close(self) -> None:
        self._stopped.set()
        self.flush()
        super().close()

    def _flush_every(self, interval_s: float) -> None:
        while not self._stopped.wait(interval_s):
            self.flush()


def configure_logging(service: str, *, level: str = "INFO", json_lines: bool = True) -> None:
    """Route every logger (ours and the libraries') to stderr in one format, written in batches
    (`BatchedStreamHandler`)."""
    for old in logging.getLogger().handlers:
        if isinstance(old, BatchedStreamHandler):
            old.close()
    # No record asks where it was logged from, in which thread or process (the formats above never
    # show it): the stdlib's documented switches that spare each record a walk up the stack and a
    # few system calls (logging HOWTO, "Optimization").
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = BatchedStreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "asyncio", "alembic", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
