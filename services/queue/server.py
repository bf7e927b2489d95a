"""Queue's gRPC servicers (internal and partner). RPCs arrive with issue 6; until then the
generated base classes answer UNIMPLEMENTED."""

from __future__ import annotations

from jkn.queue.v1 import partner_pb2_grpc, queue_pb2_grpc


class QueueServicer(queue_pb2_grpc.QueueServiceServicer):
    """Facilities, schedules and bookings (for the gateway)."""


class PartnerQueueServicer(partner_pb2_grpc.PartnerQueueServiceServicer):
    """Schedules, check-in, task times, cancellations and referrals from partner facilities."""
