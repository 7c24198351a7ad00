"""The application factory: builds every service once and hands each surface what it uses.

`await create_app(settings)` opens the store (so a second process on the same data
directory is refused right there), builds the provisioning services, the chat features
and the device API over them, and returns the aiohttp `Application`. Starting it starts
the notice sender (which first sends what the last run left in the outbox); stopping it
gives notices in flight a moment, closes the outbound connections, then the store.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from bot.botframework import BotFrameworkChannel
from bot.botframework.outbound import OutboundHttp
from bot.chat.dispatch import Dispatcher
from bot.chat.gate import Gate
from bot.chat.interactions import Interactions, Menu
from bot.chat.single_use import SingleUseCards
from bot.chat.turn import Speaker
from bot.device_api.rate_limit import AttemptLimit, RateLimiter
from bot.device_api.routes import DeviceApi, add_device_routes
from bot.features import FEATURES, Codes, Files, Help, Inventory, SignIn
from bot.files.delivery import FileDesk
from bot.files.downloads import add_download_route
from bot.files.upload import Importer
from bot.notices import Notifier, Pacing
from bot.pages import add_page_routes
from bot.process import collector_paused
from bot.settings import Settings
from provisioning.attempts import AttemptCounter, MemoryAttemptCounter
from provisioning.clock import Clock, SystemClock
from provisioning.device_service import DeviceService
from provisioning.firmware import Catalog
from provisioning.outbox import Outbox
from provisioning.service import ProvisioningService
from storage import open_store
from storage.files import FileStash, MemoryFileStash
from storage.postgres import PostgresStore, open_postgres_store
from storage.store import check_tenant_id
from storage.tenants import TenantStore

log = logging.getLogger(__name__)

NOTICE_DRAIN_SECONDS = 2  # sends in flight at a stop get this long; the rest stay in the outbox
MAX_REQUEST_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Services:
    """What the app built, for tests and diagnostics to look at; no handler reads it."""

    store: TenantStore
    service: ProvisioningService
    devices: DeviceService
    notices: Notifier
    downloads: FileStash
    outbound: OutboundHttp


SERVICES = web.AppKey("services", Services)


async def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    clock = clock or SystemClock()
    catalog = Catalog.default()
    if settings.catalog_file:
        catalog = catalog.extended_with(settings.catalog_file)
    store: TenantStore
    if settings.database_url:
        store = await open_postgres_store(settings.database_url, bulk_work=collector_paused)
    else:
        store = await open_store(settings.data_dir)
    try:
        return _assemble(settings, clock, catalog, store)
    except BaseException:
        await store.close()
        raise


def _assemble(settings: Settings, clock: Clock, catalog: Catalog, store: TenantStore) -> web.Application:
    # Wrong codes per MAC: counted by the device side, cleared by new codes; shared by every
    # instance on a PostgreSQL store.
    attempts: AttemptCounter = store.code_failures() if isinstance(store, PostgresStore) else MemoryAttemptCounter()
    service = ProvisioningService(store, clock, code_ttl=timedelta(hours=settings.code_ttl_hours),
                                  tenant_name_default=settings.tenant_name, attempts=attempts)
    devices = DeviceService(store, catalog, clock, tenant_name_default=settings.tenant_name, attempts=attempts)
    channel = BotFrameworkChannel(settings)
    pacing = Pacing(interval=settings.notice_interval_seconds, gather=settings.notice_gather_seconds,
                    give_up_after=settings.notice_give_up_hours * 3600, retry_delays=settings.notify_retry_seconds)
    notices = Notifier(channel.sender, service, Outbox(store), pacing)
    single_use = SingleUseCards(store, clock)
    downloads = store.files() if isinstance(store, PostgresStore) else MemoryFileStash()
    desk = FileDesk(downloads, settings.public_url, settings.download_hosts, clock)
    importer = Importer(service, desk, settings.download_hosts, settings.max_upload_bytes)
    help_ = Help(Menu(FEATURES))
    sign_in = SignIn(service, single_use, notices, clock)
    features = [
        Inventory(service, single_use, catalog, clock),
        Codes(service, notices, clock),
        sign_in,
        Files(service, desk, importer, clock),
        help_,
    ]
    dispatcher = Dispatcher(Interactions(features), Gate(check_tenant_id), help_)

    def is_admin(speaker: Speaker) -> bool:
        return settings.is_admin(speaker.user_id, speaker.channel_user_id)

    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    channel.add_routes(app.router, dispatcher, is_admin)
    limiter: AttemptLimit = (store.attempt_limit(settings.device_rate_limit, 60) if isinstance(store, PostgresStore)
                             else RateLimiter(settings.device_rate_limit, 60.0, time.monotonic))
    add_device_routes(app.router, DeviceApi(devices, notices, limiter, settings.public_url,
                                            sign_in_offer=sign_in.offer_requested))
    add_download_route(app.router, downloads, clock)
    app.router.add_get("/healthz", _healthz)
    add_page_routes(app.router)
    app[SERVICES] = Services(store, service, devices, notices, downloads, channel.outbound)

    warming: list[asyncio.Task[None]] = []

    async def warm() -> None:
        with collector_paused():  # every device decoded: a million long-lived objects at 50,000
            await store.warm()

    async def start(_: web.Application) -> None:
        notices.start()  # notices left in the outbox by the last run go out now
        # The stored devices decoded in the background, so the first `list all` or `code all`
        # after a start doesn't decode them all on the event loop.
        warming.append(asyncio.get_running_loop().create_task(warm()))

    async def stop(_: web.Application) -> None:
        for task in warming:
            task.cancel()
        try:
            await notices.drain(NOTICE_DRAIN_SECONDS)
        finally:
            await limiter.close()
            await channel.close()
            await store.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    _log_access_policy(settings)
    return app


def _log_access_policy(settings: Settings) -> None:
    if settings.admins:
        log.info("%d admin(s) configured in ADMINS", len(settings.admins))
    elif settings.auth_enabled:
        log.warning("ADMINS is empty and an app id is set: nobody may run admin commands. Set ADMINS.")
    else:
        log.warning("No app id and ADMINS is empty: local mode, EVERY user is an admin (Emulator use only).")


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
