"""/openapi.json documents what the reschedule and waitlist routes (CONTRACT.md §7) can answer:
each refusal of queue's rules under its status, with the problem schema."""

from __future__ import annotations

import pytest

PROBLEM = "application/problem+json"


@pytest.fixture
async def document(gateway_client) -> dict:
    async with gateway_client({}) as (_, client):
        return (await client.get("/openapi.json")).json()


def _codes(document: dict, method: str, path: str, status: str) -> set[str]:
    return set(document["paths"][path][method]["responses"][status]["content"][PROBLEM]["examples"])


async def test_the_reschedule_route_documents_every_booking_refusal_and_the_old_bookings(document):
    path = "/v1/bookings/{booking_code}/reschedule"
    assert "201" in document["paths"][path]["post"]["responses"]
    assert _codes(document, "post", path, "409") == {"QUOTA_FULL", "DUPLICATE_BOOKING", "BOOKING_NOT_CANCELLABLE"}
    assert _codes(document, "post", path, "422") == {"VALIDATION_ERROR", "REFERRAL_REQUIRED", "REFERRAL_INVALID",
                                                     "BOOKING_WINDOW", "FACILITY_NOT_REGISTERED"}
    assert _codes(document, "post", path, "403") == {"PARTICIPANT_INACTIVE"}
    assert {"401", "404", "429", "503"} <= set(document["paths"][path]["post"]["responses"])


async def test_the_waitlist_routes_document_their_refusals(document):
    assert _codes(document, "post", "/v1/waitlist", "409") == {"SEATS_AVAILABLE", "DUPLICATE_BOOKING"}
    assert _codes(document, "post", "/v1/waitlist/{waitlist_id}/accept", "410") == {"OFFER_EXPIRED"}
    assert _codes(document, "post", "/v1/waitlist/{waitlist_id}/accept", "409") == {"NOT_OFFERED",
                                                                                    "DUPLICATE_BOOKING"}
    assert _codes(document, "delete", "/v1/waitlist/{waitlist_id}", "404") == {"NOT_FOUND"}
    assert "204" in document["paths"]["/v1/waitlist/{waitlist_id}"]["delete"]["responses"]
    assert "200" in document["paths"]["/v1/waitlist"]["get"]["responses"]
    booking = document["components"]["schemas"]["BookingWithProgress"]["properties"]
    assert {"alternatives", "rescheduled_to", "cancel_reason"} <= set(booking)
