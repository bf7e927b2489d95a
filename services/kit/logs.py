"""JSON logs as events, with trace ids and masked personal data.

Usage::

    log = get_logger(__name__)
    log.info("otp_issued", extra={"channel": "sms", "destination": mask_phone(phone)})

The message is the event name; ``extra`` holds structured fields. Every string that
reaches the output passes through `masking.scrub`, so a NIK, phone number or email that
slipped through unmasked is still masked. Secrets never belong in a log call at all.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from opentelemetry import trace

from services.kit.masking import scrub

# Attributes every LogRecord has; anything else came from `extra=`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_UNSCRUBBED = {"trace_id", "span_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, service, logger, event, trace ids, fields."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": scrub(record.getMessage()),
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
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal (``JKN_LOG_JSON=false``), scrubbed the same way."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{k}={_clean(k, v)}" for k, v in record.__dict__.items()
            if k not in _STANDARD and not k.startswith("_")
        )
        line = f"{record.levelname[:4]} {record.name}: {scrub(record.getMessage())} {fields}".rstrip()
        if record.exc_info:
            line += "\n" + scrub(self.formatException(record.exc_info))
        return line


def _clean(key: str, value: object) -> object:
    if isinstance(value, str) and key not in _UNSCRUBBED:
        return scrub(value)
    if isinstance(value, dict | list | tuple):
        return json.loads(scrub(json.dumps(value, default=str)))
    return value


def configure_logging(service: str, *, level: str = "INFO", json_lines: bool = True) -> None:
    """Route every logger (ours and the libraries') to stderr in one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "asyncio", "alembic", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
