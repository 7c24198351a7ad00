"""The application factory: wires settings, store, provisioning services, adapter and bot.

`create_app(settings)` builds an aiohttp `Application` and nothing else happens at import
time. The store is opened when the app starts (so a second process on the same data
directory is refused then) and flushed and closed when it stops.
"""
from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from aiohttp import web

from bot.adapter import create_adapter
from bot.device_api import add_device_routes
from bot.files.downloads import add_download_routes
from bot.handler import ProvisioningBot, turn_error_handler
from bot.messages import messages_handler
from bot.notifications import Notifier
from bot.rate_limit import RateLimiter
from bot.runtime import Runtime
from bot.settings import Settings
from provisioning.clock import Clock, SystemClock
from provisioning.device_service import DeviceService
from provisioning.firmware import Catalog
from provisioning.service import ProvisioningService
from storage import open_store

log = logging.getLogger(__name__)

RUNTIME = web.AppKey("runtime", Runtime)
NOTICE_DRAIN_SECONDS = 5


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)

    def runtime() -> Runtime:
        return app[RUNTIME]

    adapter = create_adapter(settings, turn_error_handler)
    notifier = Notifier(adapter, settings.app_id, lambda: runtime().service, settings.notify_retry_seconds)
    bot = ProvisioningBot(settings, runtime)
    app.cleanup_ctx.append(_lifecycle(settings, clock or SystemClock(), notifier))
    app.router.add_post("/api/messages", messages_handler(adapter, bot))
    add_device_routes(app, runtime)
    add_download_routes(app, runtime)
    app.router.add_get("/healthz", _healthz)
    return app


def _lifecycle(settings: Settings, clock: Clock, notifier: Notifier) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        catalog = Catalog.default()
        if settings.catalog_file:
            catalog = catalog.extended_with(settings.catalog_file)
        store = await open_store(settings.data_dir)
        service = ProvisioningService(
            store,
            clock,
            code_ttl=timedelta(hours=settings.code_ttl_hours),
            tenant_name_default=settings.tenant_name,
        )
        devices = DeviceService(store, catalog, clock, tenant_name_default=settings.tenant_name)
        limiter = RateLimiter(settings.device_rate_limit, 60.0, time.monotonic)
        app[RUNTIME] = Runtime(settings, store, service, devices, catalog, clock, notifier, limiter)
        _log_access_policy(settings)
        try:
            yield
        finally:
            await notifier.drain(NOTICE_DRAIN_SECONDS)
            await store.close()

    return lifecycle


def _log_access_policy(settings: Settings) -> None:
    if settings.admins:
        log.info("%d admin(s) configured in ADMINS", len(settings.admins))
    elif settings.auth_enabled:
        log.warning("ADMINS is empty and an app id is set: nobody may run admin commands. Set ADMINS.")
    else:
        log.warning("No app id and ADMINS is empty: local mode, EVERY user is an admin (Emulator use only).")


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
