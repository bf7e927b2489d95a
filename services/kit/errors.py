"""One error hierarchy for the platform.

A service raises a `DomainError` subclass carrying one of the contract's machine-readable
codes (CONTRACT.md §2–§4). The server interceptor turns it into a gRPC status with a
``google.rpc.ErrorInfo`` (reason = the code, metadata = extra fields such as
``retry_after``); the gateway turns that back into an RFC 9457 problem with the HTTP status
of `CODES`. Servicers and routes never catch and translate errors by hand.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "jkn.bpjs-kesehatan.go.id"


@dataclass(frozen=True)
class Code:
    """How one machine-readable error code travels: gRPC status, HTTP status, titles."""

    grpc: grpc.StatusCode
    http: int
    title_id: str
    title_en: str


S = grpc.StatusCode
#: Every error code of the contract, with its transport mapping and its human titles.
CODES: dict[str, Code] = {
    "VALIDATION_ERROR": Code(S.INVALID_ARGUMENT, 422, "Data tidak valid", "Invalid data"),
    "UNAUTHENTICATED": Code(S.UNAUTHENTICATED, 401, "Perlu masuk terlebih dahulu", "Authentication required"),
    "INVALID_CREDENTIALS": Code(S.UNAUTHENTICATED, 401, "Identitas atau kata sandi salah",
                                "Invalid identifier or password"),
    "ACCOUNT_LOCKED": Code(S.RESOURCE_EXHAUSTED, 423, "Akun dikunci sementara", "Account temporarily locked"),
    "IDENTITY_MISMATCH": Code(S.FAILED_PRECONDITION, 422, "Data peserta tidak cocok",
                              "Participant data does not match"),
    "ALREADY_REGISTERED": Code(S.ALREADY_EXISTS, 409, "Akun sudah terdaftar", "Account already registered"),
    "WEAK_PASSWORD": Code(S.INVALID_ARGUMENT, 422, "Kata sandi terlalu lemah", "Password too weak"),
    "WEAK_PIN": Code(S.INVALID_ARGUMENT, 422, "PIN terlalu lemah", "PIN too weak"),
    "PIN_LOCKED": Code(S.RESOURCE_EXHAUSTED, 423, "PIN dikunci sementara", "PIN temporarily locked"),
    "OTP_INVALID": Code(S.INVALID_ARGUMENT, 422, "Kode OTP salah", "Invalid one-time code"),
    "OTP_EXPIRED": Code(S.FAILED_PRECONDITION, 410, "Kode OTP kedaluwarsa", "One-time code expired"),
    "OTP_ATTEMPTS_EXCEEDED": Code(S.RESOURCE_EXHAUSTED, 429, "Terlalu banyak percobaan kode",
                                  "Too many code attempts"),
    "OTP_RESEND_TOO_SOON": Code(S.RESOURCE_EXHAUSTED, 429, "Tunggu sebelum meminta kode lagi",
                                "Wait before requesting another code"),
    "OTP_SEND_LIMIT": Code(S.RESOURCE_EXHAUSTED, 429, "Batas pengiriman kode tercapai", "Code send limit reached"),
    "RATE_LIMITED": Code(S.RESOURCE_EXHAUSTED, 429, "Terlalu banyak permintaan", "Too many requests"),
    "NOT_FOUND": Code(S.NOT_FOUND, 404, "Data tidak ditemukan", "Not found"),
    "PERMISSION_DENIED": Code(S.PERMISSION_DENIED, 403, "Akses ditolak", "Permission denied"),
    "DEPENDENCY_UNAVAILABLE": Code(S.UNAVAILABLE, 503, "Layanan sedang tidak tersedia",
                                   "Service temporarily unavailable"),
    "FKTP_CHANGE_TOO_SOON": Code(S.FAILED_PRECONDITION, 409, "Perubahan FKTP belum dapat dilakukan",
                                 "FKTP cannot be changed yet"),
    "FACILITY_INVALID": Code(S.INVALID_ARGUMENT, 422, "Fasilitas kesehatan tidak valid", "Invalid facility"),
    "QUOTA_FULL": Code(S.FAILED_PRECONDITION, 409, "Kuota antrean penuh", "Queue quota is full"),
    "DUPLICATE_BOOKING": Code(S.ALREADY_EXISTS, 409, "Sudah ada antrean aktif", "An active booking already exists"),
    "REFERRAL_REQUIRED": Code(S.FAILED_PRECONDITION, 422, "Rujukan diperlukan", "A referral is required"),
    "REFERRAL_INVALID": Code(S.FAILED_PRECONDITION, 422, "Rujukan tidak valid", "Invalid referral"),
    "BOOKING_WINDOW": Code(S.FAILED_PRECONDITION, 422, "Tanggal di luar jangka pemesanan",
                           "Date outside the booking window"),
    "FACILITY_NOT_REGISTERED": Code(S.FAILED_PRECONDITION, 422, "Bukan FKTP terdaftar peserta",
                                    "Not the participant's registered FKTP"),
    "PARTICIPANT_INACTIVE": Code(S.FAILED_PRECONDITION, 403, "Kepesertaan tidak aktif", "Membership is inactive"),
    "BOOKING_NOT_CANCELLABLE": Code(S.FAILED_PRECONDITION, 409, "Antrean tidak dapat dibatalkan",
                                    "Booking cannot be cancelled"),
    "INTERNAL": Code(S.INTERNAL, 500, "Terjadi kesalahan pada sistem", "Internal error"),
    "EMAIL_IN_USE": Code(S.ALREADY_EXISTS, 409, "Email sudah digunakan akun lain",
                         "Email already used by another account"),
    "PAYLOAD_TOO_LARGE": Code(S.INVALID_ARGUMENT, 413, "Data terlalu besar", "Request body too large"),
    "SEATS_AVAILABLE": Code(S.FAILED_PRECONDITION, 409, "Kuota masih tersedia, silakan ambil antrean",
                            "Seats are still available: book instead"),
    "OFFER_EXPIRED": Code(S.FAILED_PRECONDITION, 410, "Tawaran kursi sudah kedaluwarsa", "The seat offer expired"),
    # Platform codes beyond the contract's list (jkn.common.v1.ErrorReason 100+).
    "CAPTCHA_REQUIRED": Code(S.FAILED_PRECONDITION, 422, "Captcha diperlukan", "Captcha required"),
    "CAPTCHA_INVALID": Code(S.INVALID_ARGUMENT, 422, "Captcha salah", "Invalid captcha"),
    "PIN_INVALID": Code(S.INVALID_ARGUMENT, 422, "PIN salah", "Wrong PIN"),
    "DESTINATION_NOT_ALLOWED": Code(S.INVALID_ARGUMENT, 422, "Nomor atau alamat tujuan tidak diizinkan",
                                    "Destination not allowed"),
    "PAYMENT_AMOUNT_MISMATCH": Code(S.INVALID_ARGUMENT, 422, "Jumlah pembayaran tidak sesuai",
                                    "Payment amount mismatch"),
    "CHECK_IN_NOT_ALLOWED": Code(S.FAILED_PRECONDITION, 422, "Check-in tidak diizinkan", "Check-in not allowed"),
    "TASK_OUT_OF_ORDER": Code(S.FAILED_PRECONDITION, 422, "Urutan tugas tidak valid", "Task out of order"),
    "TASK_ALREADY_RECORDED": Code(S.ALREADY_EXISTS, 409, "Tugas sudah tercatat", "Task already recorded"),
    "NOT_OFFERED": Code(S.FAILED_PRECONDITION, 409, "Belum ada kursi yang ditawarkan", "No seat is on offer"),
    "RECOVERY_PENDING": Code(S.ALREADY_EXISTS, 409, "Pemulihan akun sedang menunggu",
                             "An account recovery is pending"),
}

#: When a status arrives without ErrorInfo (a library, a proxy, a dead peer), the code it implies.
CODE_BY_GRPC_STATUS: dict[grpc.StatusCode, str] = {
    S.INVALID_ARGUMENT: "VALIDATION_ERROR",
    S.NOT_FOUND: "NOT_FOUND",
    S.UNAUTHENTICATED: "UNAUTHENTICATED",
    S.PERMISSION_DENIED: "PERMISSION_DENIED",
    S.RESOURCE_EXHAUSTED: "RATE_LIMITED",
    S.UNAVAILABLE: "DEPENDENCY_UNAVAILABLE",
    S.DEADLINE_EXCEEDED: "DEPENDENCY_UNAVAILABLE",
}


class DomainError(Exception):
    """Base of every expected failure; subclasses set `code` (a key of `CODES`).

    ``fields`` are extra machine-readable members of the problem (``retry_after``,
    ``attempts_left``, ``errors``, …); they must never hold personal data or secrets.
    """

    code = "INTERNAL"

    def __init__(self, detail: str | None = None, *, code: str | None = None, **fields: Any):
        if code is not None:
            self.code = code
        if self.code not in CODES:
            raise ValueError(f"unknown error code {self.code}")
        self.detail = detail
        self.fields = fields
        super().__init__(detail or self.code)

    @property
    def grpc_status(self) -> grpc.StatusCode:
        return CODES[self.code].grpc

    def to_status(self) -> grpc.Status:
        """The gRPC status (with ErrorInfo) that carries this error over the wire."""
        info = error_details_pb2.ErrorInfo(reason=self.code, domain=ERROR_DOMAIN)
        for key, value in self.fields.items():  # a dict given to the constructor costs ~7 µs even empty
            info.metadata[key] = json.dumps(value, separators=(",", ":"))
        status = status_pb2.Status(code=self.grpc_status.value[0], message=self.detail or self.code)
        status.details.add().Pack(info)
        return rpc_status.to_status(status)


class NotFound(DomainError):
    code = "NOT_FOUND"


class ValidationFailed(DomainError):
    """Input failed validation; ``errors`` is a list of ``{field, code, message}``."""

    code = "VALIDATION_ERROR"

    def __init__(self, errors: list[dict[str, str]], detail: str | None = None):
        super().__init__(detail or "validation failed", errors=errors)


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"


class RateLimited(DomainError):
    code = "RATE_LIMITED"


class DependencyUnavailable(DomainError):
    """A dependency (Redis, Postgres, a peer service) is down: callers answer 503."""

    code = "DEPENDENCY_UNAVAILABLE"

    def __init__(self, dependency: str, retry_after: int = 5):
        super().__init__(f"{dependency} unavailable", retry_after=retry_after)


@dataclass(frozen=True)
class RemoteError(Exception):
    """A failed gRPC call, decoded on the client side (gateway, service-to-service)."""

    code: str
    grpc_status: grpc.StatusCode
    detail: str
    fields: dict[str, Any]

    @property
    def http_status(self) -> int:
        return CODES.get(self.code, CODES["INTERNAL"]).http

    def __str__(self) -> str:  # pragma: no cover - debugging aid
        return f"{self.code} ({self.grpc_status.name}): {self.detail}"


def _contract_refusal(error: grpc.aio.AioRpcError | grpc.RpcError) -> RemoteError | None:
    """The contract code and fields a failed call carries in its ``ErrorInfo``, if it carries one."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == ERROR_DOMAIN and info.reason in CODES:
                fields = {k: json.loads(v) for k, v in info.metadata.items()}
                return RemoteError(info.reason, error.code(), status.message, fields)  # type: ignore[union-attr]
    return None


def decode_rpc_error(error: grpc.aio.AioRpcError | grpc.RpcError) -> RemoteError:
    """Recover the contract code and fields from a failed call."""
    refusal = _contract_refusal(error)
    if refusal is not None:
        return refusal
    grpc_code = error.code()  # type: ignore[union-attr]
    code = CODE_BY_GRPC_STATUS.get(grpc_code, "INTERNAL")
    extra: dict[str, Any] = {"retry_after": 5} if code == "DEPENDENCY_UNAVAILABLE" else {}
    return RemoteError(code, grpc_code, error.details() or code, extra)  # type: ignore[union-attr]


T = TypeVar("T")


async def call_peer(call: Awaitable[T], **refusals: DomainError) -> T:
    """Await a call to another service. A refusal whose contract code is named here is raised as
    the given error instead (``NOT_FOUND=NotFound("no such participant")``), so the caller's own
    contract speaks; any other failure propagates unchanged (the interceptor maps it)."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        replacement = refusals.get(decode_rpc_error(error).code)
        if replacement is None:
            raise
        raise replacement from None


def peer_refusal(error: BaseException) -> DomainError | None:
    """A peer service's refusal (its contract code in ``ErrorInfo``) as this service's own error,
    with the same code and fields (``retry_after``, ``attempts_left``, ``errors``…), so it reaches
    the client intact (CONTRACT.md §7 "Errors across services"). None for anything else: a peer's
    crash (INTERNAL, or no ErrorInfo) stays an internal error here too."""
    if not isinstance(error, grpc.aio.AioRpcError):
        return None
    refusal = _contract_refusal(error)
    if refusal is None or refusal.code == "INTERNAL":
        return None
    return DomainError(refusal.detail, code=refusal.code, **refusal.fields)


def dependency_failure(error: BaseException) -> DependencyUnavailable | None:
    """If ``error`` means a backing server is down or too slow, the 503 it stands for."""
    import asyncpg
    import redis.exceptions as redis_errors
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

    kinds: list[tuple[tuple[type[BaseException], ...], str]] = [
        ((asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
          asyncpg.exceptions.QueryCanceledError, asyncpg.exceptions.CannotConnectNowError,
          # a lock conflict the database broke: the transaction rolled back whole, a retry succeeds
          asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError), "database"),
        # down, failing over (READONLY, MASTERDOWN, TRYAGAIN, CLUSTERDOWN, LOADING) or out of memory
        ((redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.ReadOnlyError,
          redis_errors.OutOfMemoryError, redis_errors.MasterDownError, redis_errors.TryAgainError,
          redis_errors.ClusterDownError, redis_errors.BusyLoadingError), "redis"),
        ((KafkaConnectionError, KafkaTimeoutError), "kafka"),
        ((ConnectionError, TimeoutError), "dependency"),
    ]
    for types, name in kinds:
        if isinstance(error, types):
            return DependencyUnavailable(name)
    if isinstance(error, grpc.aio.AioRpcError) and error.code() in (S.UNAVAILABLE, S.DEADLINE_EXCEEDED):
        return DependencyUnavailable("upstream service")
    return None
