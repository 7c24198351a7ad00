"""Bulk work through the real HTTP path: uploads, `code all`, export and list at 50,000.

Starts the real app (`bot.app.create_app`, TinyDB store in a temp dir) and a local fake
Bot Framework connector on 127.0.0.1, then posts an Emulator-shaped message carrying a
CSV attachment whose `contentUrl` is on the connector, with normal delivery (replies go
to the connector, as in Teams). For each case it prints the median over the runs of:

- fetch+parse+import: POST sent -> "Importing N rows..." received by the connector,
- total turn: POST sent -> HTTP response (what the connector's 15 s reply window sees;
  the summary card has been delivered by then).

- stall: the longest `/healthz` answer while the work runs (another process asks it back
  to back: `benchmarks/outside_clients.py`), i.e. how long any other request waited on
  the event loop.

Cases: 10,000 new devices into an empty tenant; the same file again (all already
present); 10,000 invalid rows (report + rejected-rows file); 50,000 new devices (the
most one file may hold). Then, on the tenant of the last 50,000-row run: `code all`
(50,000 codes), `export all` (the technician file of 50,000 rows: the turn, then the
download of the link it gives) and `list all`, each timed end to end with its stall.
The service's start-up tuning (`bot.process.tune_garbage_collector`, `tune_thread_switching`)
is applied, as `provisioning-bot serve` does. Goals (issue 11): 50,000-row upload < 10 s, code all for
50,000 < 10 s, export of 50,000 < 5 s, every stall < 100 ms.

- devices: a light device load meanwhile, from that same process, as the field sees it:
  20 requests a second, alternately a provisioned device asking `GET /api/devices/me` and
  a technician entering a code (`POST /api/devices/provision`) for a device of another
  tenant; p50, p99 and worst of each while the work runs. (A device of the tenant being bulk-changed waits for the bulk
  change to be durable before its own change is: that is durability, not the loop.)

`--postgres` runs the same on the PostgreSQL store (`TEST_DATABASE_URL`, else the local
server; a fresh schema per run, dropped afterwards).

    .venv/bin/python benchmarks/upload_bench.py [--runs 3] [--postgres]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import SERVICES, create_app  # noqa: E402
from bot.process import tune_garbage_collector, tune_thread_switching  # noqa: E402
from bot.settings import Settings  # noqa: E402
from provisioning.audit import Actor  # noqa: E402
from tests.pg import fresh_schema  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "activities" / "emulator_message.json"


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


FIELD_TENANT = "field-tenant"  # the devices of the light load: another tenant than the bulk work's
DEVICE = {"model": "T55A", "manufacturer": "Yealink", "firmware_version": "58.15.0.124"}


class FieldDevices:
    """Devices of `FIELD_TENANT` for the light device load: coded ones, and a few provisioned
    (their device tokens)."""

    def __init__(self, tokens: list[str], codes: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.codes = codes  # (mac, code) not yet provisioned

    @classmethod
    async def prepared(cls, app: web.Application, session: ClientSession, bot_url: str) -> FieldDevices:
        service = app[SERVICES].service
        actor = Actor(id="bench-admin", name="Bench", source="chat")
        macs = [f"00-2B-00-{i >> 8 & 0xFF:02X}-{i & 0xFF:02X}-7C" for i in range(2_000)]
        await service.add_devices(FIELD_TENANT, actor, [(mac, "Field") for mac in macs])
        coded = await service.issue_codes_for_all(FIELD_TENANT, actor)
        field = cls([], [(d.mac, d.code.value) for d in coded if d.code is not None])
        for _ in range(8):
            mac, code = field.codes.pop()
            async with session.post(f"{bot_url}/api/devices/provision",
                                    json={"mac": mac, "verification_code": code, **DEVICE}) as response:
                assert response.status == 200, await response.text()
                field.tokens.append((await response.json())["device_token"])
        return field


class OutsideProcess:
    """`benchmarks/outside_clients.py` in a process of its own while a block runs: the
    `/healthz` pinger (`stall`: its slowest answer) and the light device load (`figures`)."""

    def __init__(self, bot_url: str, field: FieldDevices, directory: Path) -> None:
        self.bot_url = bot_url
        self.field = field
        self.config = directory / f"outside-{time.monotonic_ns()}.json"
        self.timings: dict[str, list[float]] = {}
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> OutsideProcess:
        codes, self.field.codes = self.field.codes[-400:], self.field.codes[:-400]  # each run its own
        self.config.write_text(json.dumps({"bot": self.bot_url, "tokens": self.field.tokens, "codes": codes}))
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "benchmarks" / "outside_clients.py"), str(self.config),
            stdout=asyncio.subprocess.PIPE)
        assert self._process.stdout is not None
        assert (await self._process.stdout.readline()).strip() == b"ready"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._process is not None
        self._process.terminate()
        out, _ = await self._process.communicate()
        assert self._process.returncode == 0, out
        self.timings = json.loads(out)

    @property
    def stall(self) -> float:
        return max(self.timings["healthz"])

    def figures(self) -> str:
        """p50/p99/worst (ms) of each kind of device request, and how many were timed."""
        def spread(values: list[float]) -> str:
            if not values:
                return "-"
            ordered = sorted(values)
            p50, p99 = (ordered[min(len(ordered) - 1, int(len(ordered) * q))] for q in (0.5, 0.99))
            return f"{p50 * 1000:.0f}/{p99 * 1000:.0f}/{ordered[-1] * 1000:.0f}"
        me, provisions = self.timings["me"], self.timings["provision"]
        return f"{spread(me):>10} {spread(provisions):>10} {len(me) + len(provisions):>4}"


async def turn(session: ClientSession, bot_url: str, connector: Connector, connector_url: str,
               text: str) -> tuple[float, list[dict[str, Any]]]:
    """Send `text` as the Emulator would; the time to the HTTP response and the replies."""
    connector.arrivals.clear()
    body = json.loads(FIXTURE.read_text())
    body.update(id=f"bench-{time.monotonic_ns()}", serviceUrl=connector_url, text=text)
    started = time.perf_counter()
    async with session.post(f"{bot_url}/api/messages", json=body) as response:
        assert response.status in (200, 201), await response.text()
    return time.perf_counter() - started, [a for _, a in connector.arrivals]


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
    card = replies[-1]["attachments"][0]["content"]  # sent, or put in place of the progress card
    assert "Import finished" in json.dumps(card), replies[-1]
    return connector.arrivals[0][0] - started, done - started, card


def counts(card: dict[str, Any]) -> str:
    columns = card["body"][1]["columns"]
    added, present, invalid = (col["items"][0]["text"] for col in columns)
    return f"{added} added, {present} present, {invalid} invalid"


@dataclass
class Figures:
    label: str
    size: str
    first: float
    total: float
    stall: float
    outcome: str
    devices: str = ""


@contextlib.asynccontextmanager
async def store_settings(data_dir: str, postgres: bool) -> AsyncIterator[Settings]:
    """The app's settings on a fresh store: TinyDB files in `data_dir`, or a new schema.
    The device rate limit is lifted: the light load comes from one address for many devices."""
    settings = Settings(data_dir=Path(data_dir), device_rate_limit=100_000)
    if not postgres:
        yield settings
        return
    async with fresh_schema() as url:
        yield replace(settings, database_url=url)


async def run_case(label: str, files: list[tuple[str, bytes]], runs: int, postgres: bool, then: bool = False
                   ) -> list[Figures]:
    """Each run: a fresh app and store; every file but the last is setup, the last is
    timed. With `then`, code all, export all and list all follow on the last run's tenant."""
    importing: list[float] = []
    totals: list[float] = []
    stalls: list[float] = []
    devices = ""
    outcome = ""
    after: list[Figures] = []
    for run in range(runs):
        with tempfile.TemporaryDirectory() as data_dir:
            async with store_settings(data_dir, postgres) as settings:
                connector = Connector()
                conn_runner, conn_url = await serve(connector.app())
                app = await create_app(settings)
                bot_runner, bot_url = await serve(app)
                tune_garbage_collector()
                tune_thread_switching()
                try:
                    async with ClientSession() as session:
                        field = await FieldDevices.prepared(app, session, bot_url)
                        for name, data in files[:-1]:
                            await upload(session, bot_url, connector, conn_url, name, data)
                        async with OutsideProcess(bot_url, field, Path(data_dir)) as outside:
                            first, total, card = await upload(session, bot_url, connector, conn_url, *files[-1])
                        stalls.append(outside.stall)
                        devices = outside.figures()
                        if then and run == runs - 1:
                            after = await bulk_turns(session, bot_url, connector, conn_url, field, Path(data_dir))
                finally:
                    await bot_runner.cleanup()
                    await conn_runner.cleanup()
            importing.append(first)
            totals.append(total)
            outcome = counts(card)
    size = f"{len(files[-1][1]) / 1024:.0f} KB"
    return [Figures(label, size, statistics.median(importing), statistics.median(totals), max(stalls), outcome,
                    devices), *after]


async def bulk_turns(session: ClientSession, bot_url: str, connector: Connector, connector_url: str,
                     field: FieldDevices, directory: Path) -> list[Figures]:
    found: list[Figures] = []
    async with OutsideProcess(bot_url, field, directory) as outside:
        took, replies = await turn(session, bot_url, connector, connector_url, "code all")
    issued = json.dumps(replies[-1]).split("verification codes issued")[0][-12:].split('"')[-1].strip()
    found.append(Figures("code all, 50,000 due", "", 0, took, outside.stall, f"{issued} codes issued",
                         outside.figures()))
    async with OutsideProcess(bot_url, field, directory) as outside:
        took, replies = await turn(session, bot_url, connector, connector_url, "export all")
        link = next(a["url"] for r in replies for att in r.get("attachments", [])
                    for a in att["content"].get("actions", []) if a.get("type") == "Action.OpenUrl")
        started = time.perf_counter()
        async with session.get(f"{bot_url}/" + link.split("/", 3)[3]) as response:
            body = await response.read()
        fetched = time.perf_counter() - started
    rows = body.count(b"\n") - 1
    found.append(Figures("export all, 50,000 rows", f"{len(body) / 1024:.0f} KB", took, took + fetched,
                         outside.stall, f"{rows:,} rows downloaded", outside.figures()))
    async with OutsideProcess(bot_url, field, directory) as outside:
        took, replies = await turn(session, bot_url, connector, connector_url, "list all")
    found.append(Figures("list all, 50,000 devices", "", 0, took, outside.stall, "first page shown",
                         outside.figures()))
    return found


async def main(runs: int, postgres: bool) -> None:
    logging.basicConfig(level=logging.ERROR)
    ten = csv_file(10_000)
    cases = [
        ("10,000 new rows", [("new.csv", ten)], False),
        ("10,000 rows, all present", [("first.csv", ten), ("again.csv", ten)], False),
        ("10,000 invalid rows", [("bad.csv", csv_file(10_000, valid=False))], False),
        ("50,000 new rows (max)", [("max.csv", csv_file(50_000))], True),
    ]
    store = "PostgreSQL" if postgres else "TinyDB"
    print(f"bulk work through POST /api/messages on {store}, median of {runs} run(s) per upload case "
          "(stall: the worst over the runs;\nGET me, provision: p50/p99/worst ms of the light device load's requests, "
          "n of them, last run)\n")
    print(f"{'case':<28} {'size':>8} {'to first reply':>14} {'whole turn':>11} {'stall':>8} {'GET me':>10} "
          f"{'provision':>10} {'n':>4}  result")
    for label, files, then in cases:
        for f in await run_case(label, files, runs, postgres, then):
            first = f"{f.first * 1000:>11.0f} ms" if f.first else f"{'':>14}"
            print(f"{f.label:<28} {f.size:>8} {first} {f.total * 1000:>8.0f} ms {f.stall * 1000:>5.0f} ms "
                  f"{f.devices}  {f.outcome}")
    print("\ngoals: 50,000-row upload < 10 s, code all 50,000 < 10 s, export 50,000 < 5 s "
          "(turn + download), stall < 100 ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="the PostgreSQL store (TEST_DATABASE_URL)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.postgres))
