"""Input hygiene.

- Every RPC gets `check_text` before its handler runs: text with control characters (a NUL byte,
  which Postgres cannot store, or terminal escapes) is a 422, never a 500 or a log line that lies.
- Handlers call `require` for the text fields they cannot do without.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from services.kit.errors import ValidationFailed

#: C0 controls and DEL, except tab, newline and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _bad_text(value: Any) -> bool:
    return isinstance(value, str) and _CONTROL.search(value) is not None


def field_with_control_characters(message: Message, prefix: str = "") -> str | None:
    """The path of the first text field (nested messages and maps included) holding a control
    character, or None."""
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                if _bad_text(key) or _bad_text(item):
                    return path
                if isinstance(item, Message) and (found := field_with_control_characters(item, f"{path}.")):
                    return found
            continue
        items = value if field.is_repeated else [value]
        for item in items:
            if field.type == FieldDescriptor.TYPE_STRING and _bad_text(item):
                return path
            if field.type == FieldDescriptor.TYPE_MESSAGE and (
                    found := field_with_control_characters(item, f"{path}.")):
                return found
    return None


def check_text(message: Any) -> None:
    if isinstance(message, Message) and (field := field_with_control_characters(message)):
        raise ValidationFailed([{"field": field, "code": "control_character",
                                 "message": "text without control characters"}])


def require(fields: dict[str, str], *, max_length: int | None = None) -> None:
    """Every named text field is given (not blank) and, with ``max_length``, not longer: a 422
    listing each field that is not (``required`` / ``too_long``)."""
    errors = [{"field": name, "code": "required", "message": f"{name} is required"}
              for name, value in fields.items() if not value.strip()]
    if max_length is not None:
        errors += [{"field": name, "code": "too_long", "message": f"{name} is too long"}
                   for name, value in fields.items() if len(value) > max_length]
    if errors:
        raise ValidationFailed(errors)
