"""The application factory: wires settings, store, provisioning service, adapter and bot.

`create_app(settings)` builds an aiohttp `Application` and nothing else happens at import
time. The store is opened when the app starts (so a second process on the same data
directory is refused then) and flushed and closed when it stops.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from bot.adapter import create_adapter
from bot.handler import ProvisioningBot, turn_error_handler
from bot.messages import messages_handler
from bot.runtime import Runtime
from bot.settings import Settings
from provisioning.clock import Clock, SystemClock
from provisioning.firmware import Catalog
from provisioning.service import ProvisioningService
from storage import open_store

log = logging.getLogger(__name__)


RUNTIME = web.AppKey("runtime", Runtime)


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    bot = ProvisioningBot(settings, lambda: app[RUNTIME])
    adapter = create_adapter(settings, turn_error_handler)
    app.cleanup_ctx.append(_runtime(settings, clock or SystemClock()))
    app.router.add_post("/api/messages", messages_handler(adapter, bot))
    app.router.add_get("/healthz", _healthz)
    return app


def _runtime(settings: Settings, clock: Clock):  # type: ignore[no-untyped-def]
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        catalog = Catalog.default()
        if settings.catalog_file:
            catalog = catalog.extended_with(settings.catalog_file)
        store = await open_store(settings.data_dir)
        service = ProvisioningService(
            store,
            catalog,
            clock,
            code_ttl=timedelta(hours=settings.code_ttl_hours),
            tenant_name_default=settings.tenant_name,
        )
        app[RUNTIME] = Runtime(settings, store, service, clock)
        _log_access_policy(settings)
        try:
            yield
        finally:
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
