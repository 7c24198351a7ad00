"""The `provisioning-bot` command line: `serve` runs the service; `device` simulates a device."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.app import create_app
from bot.device_api import simulator
from bot.process import tune_garbage_collector
from bot.settings import Settings, SettingsError
from provisioning.errors import CatalogError
from storage import StoreError
from storage.migrate import migrate_store, tenant_label

log = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="provisioning-bot", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the bot service (settings come from environment variables)")
    device = commands.add_parser("device", help="simulate a Teams Android device against a running bot")
    actions = device.add_subparsers(dest="action", required=True)
    prov = actions.add_parser("provision", help="enter a verification code, then wait for the remote sign-in")
    reset = actions.add_parser("reset", help="factory-reset the device")
    for sub in (prov, reset):
        sub.add_argument("--url", default="http://127.0.0.1:3978", help="the bot's base URL")
        sub.add_argument("--mac", required=True, help="the device's MAC ID")
        sub.add_argument("--state", type=Path, help="file keeping the device token (default .device-<MAC>.json)")
    prov.add_argument("--code", required=True, help="the verification code from the admin")
    prov.add_argument("--model", required=True, help='e.g. "Yealink T55A"')
    prov.add_argument("--firmware", required=True, help="e.g. 58.15.0.124")
    prov.add_argument("--manufacturer")
    move = commands.add_parser("migrate-store", help="copy every tenant of a TinyDB data directory into PostgreSQL")
    move.add_argument("--from", dest="source", type=Path, default=Path(os.environ.get("PROVISIONING_DATA") or "data"),
                      help="the data directory (default PROVISIONING_DATA, else ./data)")
    move.add_argument("--to", dest="target", default=os.environ.get("DATABASE_URL", ""),
                      help="the database URL (default DATABASE_URL)")
    args = parser.parse_args(argv)
    if args.command in (None, "serve"):
        return serve()
    if args.command == "migrate-store":
        return migrate(args.source, args.target)
    return run_device(args)


def migrate(source: Path, target: str) -> int:
    """`migrate-store`: copy, then print per tenant what was copied and whether it checks out."""
    if not target.startswith(("postgresql://", "postgres://")):
        print("provisioning-bot: give the database as --to postgresql://... (or set DATABASE_URL)", file=sys.stderr)
        return 2
    if not (source / ".lock").exists() and not any(source.glob("tenant-*.json")):
        print(f"provisioning-bot: {source} holds no provisioning-bot data (no tenant files)", file=sys.stderr)
        return 2
    try:
        copies = asyncio.run(migrate_store(source, target))
    except StoreError as error:
        print(f"provisioning-bot: {error}", file=sys.stderr)
        return 2
    print(f"{'tenant':<42} {'documents':>10} {'copied':>7} {'audit':>7} {'copied':>7}  check")
    for copy in copies:
        print(f"{tenant_label(copy.tenant_id):<42} {copy.documents:>10,} {copy.copied_documents:>7,} "
              f"{copy.audit:>7,} {copy.copied_audit:>7,}  {'ok' if copy.matches else 'MISMATCH'}")
    failed = [c.tenant_id for c in copies if not c.matches]
    if failed:
        print(f"provisioning-bot: {len(failed)} tenant(s) don't match in the database; nothing was removed from "
              f"{source}. Run it again, or look at the database's counts for them.", file=sys.stderr)
        return 1
    print(f"{len(copies)} tenant(s) in the database. Set DATABASE_URL and start the bot; keep {source} as a backup.")
    return 0


def run_device(args: argparse.Namespace) -> int:
    device = simulator.Device(args.url, args.mac, args.state or simulator.default_state_file(args.mac))
    try:
        if args.action == "provision":
            asyncio.run(simulator.provision(device, args.code, args.model, args.firmware, args.manufacturer))
        else:
            asyncio.run(simulator.reset(device))
    except simulator.DeviceError as error:
        print(f"[screen] {error}", file=sys.stderr)
        return 1
    except aiohttp.ClientError as error:
        print(f"[screen] Can't reach the bot at {args.url}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def serve() -> int:
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as error:
        print(f"provisioning-bot: bad setting {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        asyncio.run(_serve(settings))
    except StoreError as error:  # locked, corrupt or unusable data directory: says what to do
        print(f"provisioning-bot: {error}", file=sys.stderr)
        return 2
    except CatalogError as error:
        print(f"provisioning-bot: bad setting FIRMWARE_CATALOG: {error.message}", file=sys.stderr)
        return 2
    except OSError as error:  # address in use, permission denied on the data directory...
        print(f"provisioning-bot: cannot start: {error}", file=sys.stderr)
        return 2
    return 0


async def _serve(settings: Settings) -> None:
    runner = web.AppRunner(await create_app(settings), handle_signals=False)
    await runner.setup()
    tune_garbage_collector()  # the store is loaded: from here on, collections never walk it
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        where = "PostgreSQL (DATABASE_URL)" if settings.database_url else str(settings.data_dir.resolve())
        log.info("provisioning-bot listening on http://%s:%d (public URL %s); data in %s",
                 settings.host, settings.port, settings.public_url, where)
        await _until_stopped()
        log.info("stopping")
    finally:
        await runner.cleanup()


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
