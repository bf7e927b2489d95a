"""VClaim routes under ``/vclaim-rest`` (CONTRACT.md §8): participants on a service date (partner
`CheckEligibility` of membership) and a referral issued to the caller (partner `GetReferral` of
queue), answered BPJS-style."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from jkn.membership.v1 import partner_pb2 as membership_partner_pb2
from jkn.queue.v1 import partner_pb2
from services.bridge import answers, views
from services.bridge.deps import Ctx, visit_date
from services.kit.clock import jakarta_today

router = APIRouter(prefix="/vclaim-rest")


def _digits(value: str, length: int, name: str) -> str:
    if not (value.isdigit() and len(value) == length):
        raise answers.refused(f"{name} harus {length} digit", "VALIDATION_ERROR")
    return value


@router.get("/Peserta/nokartu/{noka}/tglSEP/{tanggal}")
async def participant_by_noka(ctx: Ctx, noka: str, tanggal: str) -> JSONResponse:
    reply = await ctx.call(ctx.state.membership.CheckEligibility, membership_partner_pb2.CheckEligibilityRequest(
        noka=_digits(noka, 13, "Nomor kartu"), service_date=visit_date(tanggal)))
    return ctx.ok({"peserta": views.participant(reply)})


@router.get("/Peserta/nik/{nik}/tglSEP/{tanggal}")
async def participant_by_nik(ctx: Ctx, nik: str, tanggal: str) -> JSONResponse:
    reply = await ctx.call(ctx.state.membership.CheckEligibility, membership_partner_pb2.CheckEligibilityRequest(
        nik=_digits(nik, 16, "NIK"), service_date=visit_date(tanggal)))
    return ctx.ok({"peserta": views.participant(reply)})


@router.get("/Rujukan/{nomor}")
async def referral(ctx: Ctx, nomor: str) -> JSONResponse:
    """Only for the hospital the referral was issued to (any other: "not found")."""
    if len(nomor) != 19:
        raise answers.refused("Nomor rujukan harus 19 karakter", "VALIDATION_ERROR")
    found = await ctx.call(ctx.state.queue.GetReferral, partner_pb2.GetReferralRequest(referral_number=nomor))
    eligibility = await ctx.call(ctx.state.membership.CheckEligibility, membership_partner_pb2.CheckEligibilityRequest(
        noka=found.noka, service_date=jakarta_today().isoformat()))
    return ctx.ok({"rujukan": views.referral(found, eligibility)})
