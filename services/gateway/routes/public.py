"""Public routes that need no login: facilities, the card keys, the payment provider's webhook."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from jkn.membership.v1 import membership_pb2
from jkn.queue.v1 import queue_pb2
from services.gateway.deps import State

router = APIRouter(prefix="/v1", tags=["public"])
_TYPE = {"FKTP": queue_pb2.FACILITY_TYPE_FKTP, "FKRTL": queue_pb2.FACILITY_TYPE_FKRTL}


class FacilityItem(BaseModel):
    code: str
    name: str
    type: Literal["FKTP", "FKRTL"]
    address: str
    lat: float
    lon: float
    distance_km: float | None


class Facilities(BaseModel):
    items: list[FacilityItem]


@router.get("/facilities", summary="Facilities nearest first, or by name")
async def facilities(
    state: State,
    type: Annotated[Literal["FKTP", "FKRTL"] | None, Query(description="FKTP or FKRTL")] = None,  # noqa: A002
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_km: Annotated[float | None, Query(gt=0, le=100)] = None,
    q: Annotated[str, Query(max_length=64)] = "",
) -> Facilities:
    request = queue_pb2.SearchFacilitiesRequest(q=q)
    if type:
        request.type = _TYPE[type]
    if lat is not None:
        request.lat = lat
    if lon is not None:
        request.lon = lon
    if radius_km is not None:
        request.radius_km = radius_km
    reply = await state.queue.SearchFacilities(request)
    return Facilities(items=[
        FacilityItem(code=f.code, name=f.name, type="FKTP" if f.type == queue_pb2.FACILITY_TYPE_FKTP else "FKRTL",
                     address=f.address, lat=f.lat, lon=f.lon,
                     distance_km=f.distance_km if f.HasField("distance_km") else None)
        for f in reply.facilities])


class Jwks(BaseModel):
    """The card-signing public keys (RFC 7517), as membership serves them."""

    model_config = ConfigDict(extra="allow")
    keys: list[dict[str, str]]


@router.get("/card-keys", summary="Public keys (JWKS) that verify the digital card's signature")
async def card_keys(state: State, response: Response) -> Jwks:
    reply = await state.membership.GetCardKeys(membership_pb2.GetCardKeysRequest())
    response.headers["Cache-Control"] = f"public, max-age={reply.max_age_s}"
    return Jwks.model_validate(json.loads(reply.jwks_json))


class PaymentCallbackResult(BaseModel):
    payment_id: str
    status: Literal["PAID"]
    replayed: bool = Field(description="true when this provider_ref was already handled")


@router.post("/payment-callbacks", summary="The payment provider's webhook (HMAC-signed raw body); a bad "
                                           "signature is 401, an amount or account mismatch 422")
async def payment_callback(state: State, request: Request,
                           x_signature: Annotated[str, Header(max_length=128)]) -> PaymentCallbackResult:
    raw = await request.body()
    reply = await state.membership.HandlePaymentCallback(
        membership_pb2.HandlePaymentCallbackRequest(raw_body=raw, signature=x_signature))
    return PaymentCallbackResult(payment_id=reply.payment_id, status="PAID", replayed=reply.replayed)
