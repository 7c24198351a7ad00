"""The `provisioning-bot` command line: `serve` runs the service; `device` simulates a device;
`teams-package` writes the Teams app package to upload in Teams."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.app import create_app
from bot.chat.interactions import Menu
from bot.device_api import simulator
from bot.features import FEATURES
from bot.process import tune_garbage_collector, tune_thread_switching
from bot.settings import Settings, SettingsError
from bot.teams_app import package
from provisioning.errors import CatalogError
from storage import StoreError
from storage.migrate import migrate_store, tenant_label
from storage.postgres.dsn import BadDsn, database_url

log = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="provisioning-bot", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the bot service (settings come from environment variables)")
    device = commands.add_parser("device", help="simulate a Teams Android device against a running bot")
    actions = device.add_subparsers(dest="action", required=True)
    prov = actions.add_parser("provision", help="enter a verification code, then wait for the remote sign-in")
    reset = actions.add_parser("reset", help="factory-reset the device")
    run = actions.add_parser("run", help="keep a provisioned device on: check its session, wait for the next sign-in")
    for sub in (prov, reset, run):
        sub.add_argument("--url", default="http://127.0.0.1:3978", help="the bot's base URL")
        sub.add_argument("--mac", required=True, help="the device's MAC ID")
        sub.add_argument("--state", type=Path, help="file keeping the device token (default .device-<MAC>.json)")
    prov.add_argument("--code", required=True, help="the verification code from the admin")
    prov.add_argument("--model", required=True, help='e.g. "Yealink T55A"')
    prov.add_argument("--firmware", required=True, help="e.g. 58.15.0.124")
    prov.add_argument("--manufacturer")
    prov.add_argument("--stay", action="store_true",
                      help="stay on after signing in: notice a sign-out or account change and sign in again")
    teams = commands.add_parser(
        "teams-package", help="write the Teams app package (manifest.json and icons in a zip) to upload in Teams",
        description="Write the Teams app package: a zip of manifest.json (schema 1.24), color.png and "
                    "outline.png, to upload in Teams. Needs no server and opens no data.")
    teams.add_argument("--app-id", help="the bot's Microsoft App ID, a GUID (default: $MicrosoftAppId)")
    teams.add_argument("--public-url", help="the https base URL the bot is reached at (default: $PUBLIC_URL)")
    teams.add_argument("--name", default=package.DEFAULT_NAME,
                       help=f"the app's name in Teams, up to 30 characters (default: {package.DEFAULT_NAME})")
    teams.add_argument("--app-version", help="the app's version, MAJOR.MINOR.PATCH; raise it for each package "
                       "uploaded to replace the last one (default: the installed provisioning-bot's)")
    teams.add_argument("--out", type=Path, default=Path(package.DEFAULT_OUT),
                       help=f"the zip to write; an existing file is replaced (default: {package.DEFAULT_OUT})")
    move = commands.add_parser("migrate-store", help="copy every tenant of a TinyDB data directory into PostgreSQL")
    move.add_argument("--from", dest="source", type=Path, default=Path(os.environ.get("PROVISIONING_DATA") or "data"),
                      help="the data directory (default PROVISIONING_DATA, else ./data)")
    move.add_argument("--to", dest="target", default=os.environ.get("DATABASE_URL", ""),
                      help="the database URL (default DATABASE_URL)")
    args = parser.parse_args(argv)
    if args.command in (None, "serve"):
        return serve()
    if args.command == "teams-package":
        return run_teams_package(args, os.environ)
    if args.command == "migrate-store":
        return migrate(args.source, args.target)
    return run_device(args)


def run_teams_package(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Exit 0 once the zip is written; 2 with one line naming a bad input, nothing written."""
    try:
        app = package.AppDetails(
            app_id=package.check_app_id(*_option(args.app_id, "--app-id", env, "MicrosoftAppId")),
            public_url=package.check_public_url(*_option(args.public_url, "--public-url", env, "PUBLIC_URL")),
            name=package.check_name(args.name),
            version=package.check_version(args.app_version),
        )
        out = package.check_out(args.out)
        package.write_package(package.package_files(app, Menu(FEATURES)), out)
    except package.PackageError as error:
        print(f"provisioning-bot teams-package: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {out}: the Teams app for bot {app.app_id} at {app.public_url}, version {app.version}.")
    print("Upload it in Teams: Apps > Manage your apps > Upload an app > Upload a custom app, "
          "or for the whole tenant in the Teams admin center: Teams apps > Manage apps > Upload new app.")
    return 0


def _option(given: str | None, flag: str, env: Mapping[str, str], variable: str) -> tuple[str, str]:
    """(value, where it came from): the option if given, else the environment variable."""
    if given is not None:
        return given, flag
    value = env.get(variable, "")
    if not value.strip():
        raise package.PackageError(f"{flag} is required (or set {variable})")
    return value, variable


def migrate(source: Path, target: str) -> int:
    """`migrate-store`: copy, then print per tenant what was copied and whether it checks out."""
    try:
        target = database_url(target)
    except BadDsn:
        print("provisioning-bot: give the database as --to postgresql://... or libpq key=value pairs "
              "(or set DATABASE_URL)", file=sys.stderr)
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
            asyncio.run(simulator.provision(device, args.code, args.model, args.firmware, args.manufacturer,
                                            stay=args.stay))
        elif args.action == "run":
            asyncio.run(simulator.run(device))
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


REQUEST_DRAIN_SECONDS = 2.0


async def _serve(settings: Settings) -> None:
    # Turns still running at a stop get this long; outbound calls have their own timeout,
    # and the notices their drain (bot/app.py), so SIGTERM exits within about 10 s.
    runner = web.AppRunner(await create_app(settings), handle_signals=False, shutdown_timeout=REQUEST_DRAIN_SECONDS)
    await runner.setup()
    tune_garbage_collector()  # the store is loaded: from here on, collections never walk it
    tune_thread_switching()  # threads doing bulk work hand the GIL back to the loop within 1 ms
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
