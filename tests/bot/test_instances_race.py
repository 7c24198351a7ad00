"""The cross-process race suite: two real `provisioning-bot serve` processes on different
ports, one PostgreSQL database. Requests race through both at once, over HTTP."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.bot.chat import FIXTURES
from tests.bot.test_process import REPO, free_port, wait_healthy
from tests.pg import fresh_schema

T55A = {"model": "T55A", "manufacturer": "Yealink", "firmware_version": "58.15.0.124"}


def start_instance(url: str, data: Path) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "PROVISIONING_DATA": str(data), "PORT": str(port),
           "HOST": "127.0.0.1", "DEVICE_RATE_LIMIT": "100000", "LOG_LEVEL": "WARNING"}
    for name in ("MicrosoftAppId", "MicrosoftAppPassword", "ADMINS"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=REPO, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return process, port


@pytest.fixture
async def instances(tmp_path: Path) -> AsyncIterator[tuple[str, list[int]]]:
    async with fresh_schema() as url:
        started = [start_instance(url, tmp_path / name) for name in ("a", "b")]
        try:
            for process, port in started:
                await asyncio.to_thread(wait_healthy, port, process)
            yield url, [port for _, port in started]
        finally:
            for process, _ in started:
                process.send_signal(signal.SIGTERM)
            for process, _ in started:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()


def activity(text: str) -> dict[str, object]:
    body: dict[str, object] = json.loads((FIXTURES / "emulator_message.json").read_text())
    body.update(text=text, deliveryMode="expectReplies")
    return body


async def say(http: aiohttp.ClientSession, port: int, text: str) -> str:
    async with http.post(f"http://127.0.0.1:{port}/api/messages", json=activity(text)) as response:
        assert response.status == 200, await response.text()
        return json.dumps(await response.json())


async def current_code(url: str, mac: str) -> str | None:
    """The device's code as the database holds it (what any instance will read)."""
    connection = await asyncpg.connect(url)
    try:
        doc = await connection.fetchval("SELECT doc::text FROM documents WHERE tbl = 'devices' AND key = $1",
                                        json.dumps(mac))
    finally:
        await connection.close()
    code = json.loads(doc).get("code") if doc else None
    return code["value"] if code else None


def macs(count: int) -> Iterator[str]:
    for n in range(count):
        yield f"02-00-00-00-{n // 256:02X}-{n % 256:02X}"


@pytest.mark.slow
async def test_a_code_raced_through_two_processes_provisions_exactly_once(instances: tuple[str, list[int]]) -> None:
    url, (a, b) = instances
    async with aiohttp.ClientSession() as http:
        rounds = list(macs(100))
        for mac in rounds:
            await say(http, a, f"add {mac} Race")
        await say(http, b, "code all")
        await asyncio.sleep(0.5)  # a's copy follows b's commit through the feed

        async def race(mac: str) -> list[int]:
            code = await current_code(url, mac)
            assert code is not None
            body = {"mac": mac, "verification_code": code, **T55A}
            answers = await asyncio.gather(*(http.post(f"http://127.0.0.1:{port}/api/devices/provision", json=body)
                                             for port in (a, b)))
            return sorted(r.status for r in answers)

        outcomes = [await race(mac) for mac in rounds]
        assert all(o == [200, 401] for o in outcomes), [o for o in outcomes if o != [200, 401]][:5]


@pytest.mark.slow
async def test_fifty_code_requests_split_over_two_processes_leave_one_valid_code(
        instances: tuple[str, list[int]]) -> None:
    url, (a, b) = instances
    mac = "02-00-00-00-10-01"
    async with aiohttp.ClientSession() as http:
        await say(http, a, f"add {mac} Lobby")
        await asyncio.sleep(0.5)
        await asyncio.gather(*(say(http, port, f"code {mac}") for port in (a, b) * 25))
        await asyncio.sleep(0.5)
        code = await current_code(url, mac)
        assert code is not None
        stale = "000000000001" if code != "000000000001" else "000000000002"
        wrong = await http.post(f"http://127.0.0.1:{b}/api/devices/provision",
                                json={"mac": mac, "verification_code": stale, **T55A})
        assert wrong.status == 401
        right = await http.post(f"http://127.0.0.1:{a}/api/devices/provision",
                                json={"mac": mac, "verification_code": code, **T55A})
        assert right.status == 200, await right.text()
