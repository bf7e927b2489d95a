"""Queue settings (``JKN_QUEUE_*`` plus the platform-wide ``JKN_*``)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import DEFAULT_PORTS, PartnerFacingSettings, database_url


class QueueSettings(PartnerFacingSettings):
    model_config = SettingsConfigDict(env_prefix="JKN_QUEUE_", extra="ignore", populate_by_name=True,
                                      frozen=True)

    service_name: str = "queue"
    grpc_port: int = DEFAULT_PORTS["queue"][0]
    metrics_port: int = DEFAULT_PORTS["queue"][1]
    database_url: str = database_url("jkn_queue")
    jobs_every_s: float = Field(60, description="how often no-shows are marked, reminders sent and waitlist "
                                "offers and past-date entries expired")
    waitlist_hold_s: float = Field(900, gt=0, description="how long a seat offered from the waitlist is held "
                                   "(auto_accept false) before it passes to the next entry")
    booking_batch_wait_ms: float = Field(2, description="how long a session's lane gathers attempts before its "
                                         "first batch (later batches form while the previous one commits)")
    booking_batch_max: int = Field(200, description="at most this many attempts seated in one transaction")
    clock_offset_s: float = Field(0, description="dev/test only: shifts the service's clock (rehearse a visit "
                                                 "day); refused in prod")

    @model_validator(mode="after")
    def _real_clock_in_prod(self):
        if self.is_prod and self.clock_offset_s:
            raise ValueError("JKN_QUEUE_CLOCK_OFFSET_S is for dev and tests only")
        return self
