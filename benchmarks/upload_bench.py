"""Bulk MAC upload through the real HTTP path: how long a 10,000-row file takes.

Starts the real app (`bot.app.create_app`, TinyDB store in a temp dir) and a local fake
Bot Framework connector on 127.0.0.1, then posts an Emulator-shaped message carrying a
CSV attachment whose `contentUrl` is on the connector, with normal delivery (replies go
to the connector, as in Teams). For each case it prints the median over the runs of:

- fetch+parse+import: POST sent -> "Importing N rows..." received by the connector,
- total turn: POST sent -> HTTP response (what the connector's 15 s reply window sees;
  the summary card has been delivered by then).

Cases: 10,000 new devices into an empty tenant; the same file again (all already
present); 10,000 invalid rows (report + rejected-rows file); 50,000 new devices (the
most one file may hold). Goal: 10,000 rows well under 15 s.

    .venv/bin/python benchmarks/upload_bench.py [--runs 3]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import create_app  # noqa: E402
from bot.settings import Settings  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "activities" / "emulator_message.json"
GOAL_SECONDS = 15.0


class Connector:
    """Serves the uploaded file and records when each reply arrives."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.arrivals: list[tuple[float, dict[str, Any]]] = []

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        app.router.add_post("/v3/conversations/{cid}/activities", self._reply)
        app.router.add_get("/v3/attachments/{name}/views/original", self._file)
        return app

    async def _reply(self, request: web.Request) -> web.Response:
        self.arrivals.append((time.perf_counter(), await request.json()))
        return web.json_response({"id": f"act-{len(self.arrivals)}"})

    async def _file(self, request: web.Request) -> web.Response:
        return web.Response(body=self.files[request.match_info["name"]], content_type="application/vnd.ms-excel")


def csv_file(count: int, *, start: int = 0, valid: bool = True) -> bytes:
    lines = ["MAC id,Location"]
    for i in range(start, start + count):
        mac = f"00-1A-{i >> 16 & 0xFF:02X}-{i >> 8 & 0xFF:02X}-{i & 0xFF:02X}-5E" if valid else f"not-a-mac-{i}"
        lines.append(f"{mac},Building {i % 7} floor {i % 13} room {i}")
    return ("\r\n".join(lines) + "\r\n").encode()


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def upload(session: ClientSession, bot_url: str, connector: Connector, connector_url: str,
                 name: str, data: bytes) -> tuple[float, float, dict[str, Any]]:
    connector.files[name] = data
    connector.arrivals.clear()
    body = json.loads(FIXTURE.read_text())
    body.pop("text")
    body.update(id=f"bench-{time.monotonic_ns()}", serviceUrl=connector_url, attachments=[{
        "contentType": "application/vnd.ms-excel", "name": name,
        "contentUrl": f"{connector_url}/v3/attachments/{name}/views/original"}])
    started = time.perf_counter()
    async with session.post(f"{bot_url}/api/messages", json=body) as response:
        assert response.status in (200, 201), await response.text()
    done = time.perf_counter()
    replies = [a for _, a in connector.arrivals]
    assert replies and replies[0].get("text", "").startswith("Importing"), replies[:1]
    card = replies[-1]["attachments"][0]["content"]
    assert "Import finished" in json.dumps(card), replies[-1]
    return connector.arrivals[0][0] - started, done - started, card


def counts(card: dict[str, Any]) -> str:
    columns = card["body"][1]["columns"]
    added, present, invalid = (col["items"][0]["text"] for col in columns)
    return f"{added} added, {present} present, {invalid} invalid"


async def run_case(label: str, files: list[tuple[str, bytes]], runs: int) -> tuple[str, float, float, str]:
    """Each run: a fresh app and data dir; every file but the last is setup, the last is timed."""
    importing: list[float] = []
    totals: list[float] = []
    outcome = ""
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as data_dir:
            connector = Connector()
            conn_runner, conn_url = await serve(connector.app())
            bot_runner, bot_url = await serve(await create_app(Settings(data_dir=Path(data_dir))))
            try:
                async with ClientSession() as session:
                    for name, data in files[:-1]:
                        await upload(session, bot_url, connector, conn_url, name, data)
                    first, total, card = await upload(session, bot_url, connector, conn_url, *files[-1])
            finally:
                await bot_runner.cleanup()
                await conn_runner.cleanup()
            importing.append(first)
            totals.append(total)
            outcome = counts(card)
    return label, statistics.median(importing), statistics.median(totals), outcome


async def main(runs: int) -> None:
    logging.basicConfig(level=logging.ERROR)
    ten = csv_file(10_000)
    cases = [
        ("10,000 new rows", [("new.csv", ten)]),
        ("10,000 rows, all present", [("first.csv", ten), ("again.csv", ten)]),
        ("10,000 invalid rows", [("bad.csv", csv_file(10_000, valid=False))]),
        ("50,000 new rows (max)", [("max.csv", csv_file(50_000))]),
    ]
    print(f"upload through POST /api/messages, median of {runs} run(s) per case\n")
    print(f"{'case':<28} {'size':>8} {'to Importing':>13} {'whole turn':>11}  result")
    for label, files in cases:
        name, first_ms, total_ms, outcome = await run_case(label, files, runs)
        size = f"{len(files[-1][1]) / 1024:.0f} KB"
        print(f"{name:<28} {size:>8} {first_ms * 1000:>10.0f} ms {total_ms * 1000:>8.0f} ms  {outcome}")
    print(f"\ngoal: 10,000 rows well under the connector's {GOAL_SECONDS:.0f} s reply window")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args().runs))
