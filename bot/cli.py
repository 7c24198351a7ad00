"""The `provisioning-bot` command line: `serve` runs the service."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from bot.app import create_app
from bot.settings import Settings, SettingsError
from storage import StoreCorrupt, StoreLocked

log = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="provisioning-bot", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the bot service (settings come from environment variables)")
    args = parser.parse_args(argv)
    if args.command in (None, "serve"):
        return serve()
    parser.error(f"unknown command {args.command}")
    return 2


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
    except (StoreLocked, StoreCorrupt) as error:
        print(f"provisioning-bot: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # address in use, permission denied on the data directory...
        print(f"provisioning-bot: cannot start: {error}", file=sys.stderr)
        return 2
    return 0


async def _serve(settings: Settings) -> None:
    runner = web.AppRunner(create_app(settings), handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        log.info("provisioning-bot listening on http://%s:%d (public URL %s); data in %s",
                 settings.host, settings.port, settings.public_url, settings.data_dir.resolve())
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
