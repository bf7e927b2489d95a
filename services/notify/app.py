"""Assembles the notify service: database, Redis, OTP engine, delivery worker, servicer (by role)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
from services.kit.consumer import IdempotentConsumer
from services.kit.grpc_server import Servicer
from services.kit.kafka import NOTIFY_REQUESTS
from services.kit.runtime import Runtime
from services.notify import otp
from services.notify.delivery import Delivery
from services.notify.otp_outbox import OtpSendRelay
from services.notify.otp_store import Limits, OtpStore
from services.notify.providers import DevOutbox, HttpSms, Smtp
from services.notify.server import NotifyServicer
from services.notify.settings import NotifySettings
from services.notify.verifications import Verifications
from services.notify.whatsapp import WhatsAppBusiness

MIGRATIONS = Path(__file__).parent / "migrations"


def limits(settings: NotifySettings) -> Limits:
    return Limits(destination_10m=settings.otp_destination_10m, destination_24h=settings.otp_destination_24h,
                  client_ip_1h=settings.otp_client_ip_1h, number_prefix_1h=settings.otp_number_prefix_1h,
                  sms_budget_1h=settings.otp_sms_budget_1h, resend_cooldown_s=settings.otp_resend_cooldown_s,
                  max_checks=settings.otp_max_checks)


def providers(settings: NotifySettings, runtime: Runtime) -> dict[str, list]:
    """Email: SMTP (and the dev outbox outside prod). SMS: the HTTP gateway when configured,
    and the dev outbox outside prod. WhatsApp: the WhatsApp Business API, only when configured."""
    dev = [] if settings.is_prod else [DevOutbox(settings.unreachable_numbers)]
    smtp = Smtp(host=settings.smtp_host, port=settings.smtp_port, username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value() if settings.smtp_username else "",
                use_tls=settings.smtp_use_tls, sender=settings.mail_from, timeout_s=settings.provider_timeout_s,
                retries=settings.provider_retries)
    sms: list = []
    if settings.sms_gateway_url:
        gateway = HttpSms(url=settings.sms_gateway_url, token=settings.sms_gateway_token.get_secret_value(),
                          sender=settings.sms_sender_id, timeout_s=settings.provider_timeout_s,
                          retries=settings.provider_retries)
        runtime.stack.push_async_callback(gateway.close)
        sms.append(gateway)
    offered: dict[str, list] = {"email": [smtp, *dev], "sms": [*sms, *dev]}
    if settings.whatsapp_api_url:  # a third channel: its own provider module (channels.WHATSAPP)
        if settings.whatsapp_api_token is None:
            raise ValueError("JKN_NOTIFY_WHATSAPP_API_URL needs JKN_NOTIFY_WHATSAPP_API_TOKEN")
        whatsapp = WhatsAppBusiness(url=settings.whatsapp_api_url,
                                    token=settings.whatsapp_api_token.get_secret_value(),
                                    timeout_s=settings.provider_timeout_s, retries=settings.provider_retries)
        runtime.stack.push_async_callback(whatsapp.close)
        offered["whatsapp"] = [whatsapp]
    return offered


async def build(runtime: Runtime) -> list[Servicer]:
    """The API (role ``api``), the delivery pipeline (role ``worker``), or both (``all``). Split, the API's
    event loop spends its core on issue and check while the worker relays the queued sends to Kafka and
    delivers them; both share only Postgres, Redis and Kafka, so either scales on its own."""
    settings = runtime.settings
    assert isinstance(settings, NotifySettings)
    pool = await runtime.database(MIGRATIONS)
    redis = await runtime.redis()
    store = OtpStore(redis, limits=limits(settings))
    by_channel = providers(settings, runtime)
    if settings.role in ("all", "worker"):
        _deliver(runtime, settings, pool, store, by_channel)
    if settings.role == "worker":
        return []  # the gRPC port serves health (and reflection) only: the probes' target
    verifications = Verifications(store=store, settings=settings)
    servicer = NotifyServicer(pool=pool, verifications=verifications, dev_outbox_enabled=not settings.is_prod,
                              sms_callback_secret=settings.sms_callback_secret.get_secret_value(),
                              offered=frozenset(by_channel))
    return [Servicer(servicer, notify_pb2_grpc.add_NotifyServiceServicer_to_server,
                     notify_pb2.DESCRIPTOR.services_by_name["NotifyService"].full_name)]


def _deliver(runtime: Runtime, settings: NotifySettings, pool: asyncpg.Pool, store: OtpStore,
             by_channel: dict[str, list]) -> None:
    """The delivery pipeline: both relays to Kafka and the worker that composes and sends."""
    runtime.relay_outbox(pool)  # SendNotification's requests (Postgres outbox)
    runtime.background(OtpSendRelay(store, settings.kafka_bootstrap).run(), "otp-outbox-relay")  # OTP sends (Redis)
    delivery = Delivery(store=store, keys=otp.parse_code_keys(settings.otp_code_keys.get_secret_value()),
                        providers=by_channel, pool=pool, max_attempts=settings.delivery_max_attempts)
    runtime.background(IdempotentConsumer(
        pool=pool, bootstrap=settings.kafka_bootstrap, topic=NOTIFY_REQUESTS, group="notify-delivery",
        handler=delivery.handle, max_attempts=settings.delivery_max_attempts).run(), "delivery-worker")
