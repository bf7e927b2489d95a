"""BPJS's envelope and metadata codes (CONTRACT.md §8), and how a refusal from queue or membership
reads to a SIMRS.

- Rule 1: Antrean answers ``{"metadata": {"code": 200, "message": "Ok"}, "response": ...}``,
  VClaim ``{"metaData": {"code": "200", "message": "OK"}, "response": ...}`` (its code a string).
- Rule 2: a refusal is HTTP 200 with metadata code 201 and an Indonesian message saying why, as
  BPJS answers; a repeat of something already recorded (a task, a booking code) is 208.
- Rule 3: a bad signature or timestamp is HTTP 401 with code 401; an unknown path 404 with code
  404; a backing service that is down or too slow HTTP 503 with code 503 and ``Retry-After``.
  Never a 500 and never a stack trace: anything unexpected is code 201 "Terjadi kesalahan pada
  sistem".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from services.kit.errors import RemoteError


class Dialect(enum.Enum):
    ANTREAN = "antrean"
    VCLAIM = "vclaim"


OK = 200
REFUSED = 201
ALREADY_RECORDED = 208


def dialect_of(path: str) -> Dialect:
    return Dialect.VCLAIM if path.startswith("/vclaim-rest") else Dialect.ANTREAN


def envelope(dialect: Dialect, code: int, message: str, response: Any = None) -> dict[str, Any]:
    """Rule 1."""
    if dialect is Dialect.VCLAIM:
        return {"metaData": {"code": str(code), "message": message}, "response": response}
    return {"metadata": {"code": code, "message": message}, "response": response}


def ok_message(dialect: Dialect) -> str:
    return "OK" if dialect is Dialect.VCLAIM else "Ok"


@dataclass
class Refusal(Exception):
    """An answer other than 200: its metadata code, the Indonesian message, the HTTP status, and
    the machine reason for the log (never personal data)."""

    code: int
    message: str
    reason: str
    http_status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def refused(message: str, reason: str) -> Refusal:
    return Refusal(REFUSED, message, reason)


def unauthorised() -> Refusal:
    return Refusal(401, "Signature atau timestamp tidak valid", "UNAUTHENTICATED", http_status=401)


def not_a_route() -> Refusal:
    return Refusal(404, "Endpoint tidak ditemukan", "NOT_A_ROUTE", http_status=404)


def too_large() -> Refusal:
    return Refusal(413, "Data terlalu besar", "PAYLOAD_TOO_LARGE", http_status=413)


def unexpected() -> Refusal:
    return Refusal(REFUSED, "Terjadi kesalahan pada sistem, silakan coba lagi", "INTERNAL")


def unavailable(retry_after: int = 5) -> Refusal:
    return Refusal(503, "Layanan sedang tidak tersedia, silakan coba lagi", "DEPENDENCY_UNAVAILABLE",
                   http_status=503, headers={"Retry-After": str(retry_after)})


#: Rule 2: the platform's refusal codes as a SIMRS reads them.
MESSAGES: dict[str, str] = {
    "QUOTA_FULL": "Kuota JKN penuh",
    "DUPLICATE_BOOKING": "Peserta sudah memiliki antrean aktif di poli ini pada tanggal tersebut",
    "REFERRAL_REQUIRED": "Nomor referensi (rujukan) wajib diisi",
    "REFERRAL_INVALID": "Rujukan tidak valid untuk peserta, poli atau tanggal ini",
    "BOOKING_WINDOW": "Tanggal periksa di luar jadwal yang dapat dipesan",
    "FACILITY_NOT_REGISTERED": "Peserta tidak terdaftar di FKTP ini",
    "PARTICIPANT_INACTIVE": "Status kepesertaan tidak aktif",
    "BOOKING_NOT_CANCELLABLE": "Antrean tidak dapat dibatalkan",
    "CHECK_IN_NOT_ALLOWED": "Check-in hanya dapat dilakukan pada tanggal periksa",
    "TASK_OUT_OF_ORDER": "Urutan taskid atau waktu tidak sesuai",
    "TASK_ALREADY_RECORDED": "TaskId sudah tercatat",
    "NOT_FOUND": "Data tidak ditemukan",
    "PERMISSION_DENIED": "Data tidak ditemukan pada fasilitas kesehatan ini",
    "VALIDATION_ERROR": "Data tidak valid",
}


#: The partner APIs' field names as the BPJS requests name them.
BPJS_FIELDS = {"booking_code": "kodebooking", "noka": "nomorkartu", "nik": "nik", "date": "tanggal",
               "at": "waktu", "task_id": "taskid", "reason": "keterangan", "referral_number": "nomorreferensi",
               "start": "jampraktek", "medical_record_number": "norm", "visit_type": "jeniskunjungan",
               "poli_code": "kodepoli", "doctor_code": "kodedokter", "service_date": "tglSEP"}


def from_remote(error: RemoteError) -> Refusal:
    """Rules 2 and 3 for a failed partner call."""
    if error.code in ("DEPENDENCY_UNAVAILABLE", "RATE_LIMITED"):
        retry = error.fields.get("retry_after", 5)
        return unavailable(retry if isinstance(retry, int) else 5)
    if error.code == "UNAUTHENTICATED":
        return unauthorised()
    if error.code == "TASK_ALREADY_RECORDED":
        return Refusal(ALREADY_RECORDED, MESSAGES["TASK_ALREADY_RECORDED"], error.code)
    if error.code == "QUOTA_FULL" and error.fields.get("non_jkn"):
        return refused("Kuota non JKN penuh", error.code)
    if error.code == "DUPLICATE_BOOKING" and error.fields.get("booking_code_taken"):
        return Refusal(ALREADY_RECORDED, "Kode booking sudah terdaftar", "BOOKING_CODE_TAKEN")
    message = MESSAGES.get(error.code)
    if message is None:
        return unexpected()
    if error.code == "VALIDATION_ERROR":
        names = sorted({BPJS_FIELDS.get(str(e.get("field", "")), str(e.get("field", "")))
                        for e in error.fields.get("errors", []) if isinstance(e, dict)})
        message = f"{message}: {', '.join(n for n in names if n)}" if any(names) else message
    return refused(message, error.code)
