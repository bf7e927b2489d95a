"""How callers of notify show and check a one-time code (notify's API, used by auth and membership).

`check_or_raise` turns a `CheckOtp` answer into the contract's errors (CONTRACT.md §3–§4):
a wrong code is 422 ``OTP_INVALID`` with ``attempts_left``, an expired one 410
``OTP_EXPIRED``, a dead verification 429 ``OTP_ATTEMPTS_EXCEEDED``, an already used one 404.
"""

from __future__ import annotations

from jkn.common.v1 import common_pb2
from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.kit.errors import DomainError, NotFound


async def check_or_raise(notify: notify_pb2_grpc.NotifyServiceStub, *, verification_id: str, code: str,
                         purpose: notify_pb2.OtpPurpose.ValueType, flow_id: str) -> notify_pb2.CheckOtpResponse:
    """Return (notify's reply) when the code is right; raise the contract's error otherwise."""
    reply = await notify.CheckOtp(notify_pb2.CheckOtpRequest(verification_id=verification_id, code=code,
                                                             purpose=purpose, flow_id=flow_id))
    refused = refusal(reply.result, attempts_left=reply.attempts_left)
    if refused is not None:
        raise refused
    return reply


def refusal(result: notify_pb2.CheckOtpResult.ValueType, *, attempts_left: int) -> DomainError | None:
    """The contract's error for a check's result, None for an approved code. Also for callers that
    answer for a code themselves (auth's stand-in verification of a password reset), so their
    answers are exactly notify's."""
    if result == notify_pb2.CHECK_OTP_RESULT_APPROVED:
        return None
    if result == notify_pb2.CHECK_OTP_RESULT_INVALID_CODE:
        return DomainError("wrong code", code="OTP_INVALID", attempts_left=attempts_left)
    if result == notify_pb2.CHECK_OTP_RESULT_EXPIRED:
        return DomainError("code expired", code="OTP_EXPIRED")
    if result == notify_pb2.CHECK_OTP_RESULT_MAX_ATTEMPTS_REACHED:
        return DomainError("too many wrong codes", code="OTP_ATTEMPTS_EXCEEDED", retry_after=60)
    return NotFound("verification no longer pending")


def challenge(verification: notify_pb2.Verification,
              channels: tuple[common_pb2.Channel.ValueType, ...] = ()) -> common_pb2.OtpChallenge:
    """The part of a verification a client may see; ``channels``: those the same code may be sent on
    again (default: the verification's own channel). A send not yet reported on is ``QUEUED``."""
    return common_pb2.OtpChallenge(channel=verification.channel, destination_masked=verification.destination_masked,
                                   expires_in_s=verification.expires_in_s,
                                   resend_after_s=verification.resend_after_s,
                                   delivery_status=verification.delivery_status
                                   or common_pb2.OTP_DELIVERY_STATUS_QUEUED,
                                   channels_available=channels or (verification.channel,))
