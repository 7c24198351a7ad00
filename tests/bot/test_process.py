"""The service as an operator runs it: a real process, its port, its data lock, SIGTERM."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.bot.chat import FIXTURES

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PROVISIONING_DATA": str(data), "PORT": str(port), "HOST": "127.0.0.1"}
    for name in ("MicrosoftAppId", "MicrosoftAppPassword", "ADMINS"):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_healthy(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the service did not come up")


def ask(port: int, text: str) -> list[dict]:
    body = json.loads((FIXTURES / "emulator_message.json").read_text())
    body.update(text=text, deliveryMode="expectReplies")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/messages", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["activities"]


@pytest.mark.slow
def test_serve_answers_refuses_a_second_process_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    service = start(tmp_path / "data", port)
    try:
        wait_healthy(port, service)
        replies = ask(port, "add 00:1a:2b:3c:4d:5e Lobby")
        assert "00-1A-2B-3C-4D-5E" in json.dumps(replies)

        second = start(tmp_path / "data", free_port())
        output, _ = second.communicate(timeout=20)
        assert second.returncode == 2
        assert "Another provisioning-bot process" in output and "PROVISIONING_DATA" in output
    finally:
        service.send_signal(signal.SIGTERM)
        output, _ = service.communicate(timeout=20)
    assert service.returncode == 0, output
    assert "EVERY user is an admin" in output

    again = start(tmp_path / "data", port)
    try:
        wait_healthy(port, again)
        assert "Lobby" in json.dumps(ask(port, "status 00-1A-2B-3C-4D-5E")), "the device survived the restart"
    finally:
        again.send_signal(signal.SIGINT)
        again.communicate(timeout=20)
    assert again.returncode == 0


@pytest.mark.slow
async def test_a_kill_9_mid_write_keeps_every_acknowledged_device(tmp_path: Path) -> None:
    import asyncio

    import aiohttp

    port = free_port()
    service = start(tmp_path / "data", port)
    acknowledged: list[str] = []
    body = json.loads((FIXTURES / "emulator_message.json").read_text())
    try:
        wait_healthy(port, service)

        async def add(session: aiohttp.ClientSession, index: int) -> None:
            mac = f"02-00-00-00-{index // 256:02X}-{index % 256:02X}"
            message = dict(body, text=f"add {mac} Rack {index}", deliveryMode="expectReplies", id=f"kill-{index}")
            try:
                async with session.post(f"http://127.0.0.1:{port}/api/messages", json=message) as response:
                    if response.status == 200 and mac in await response.text():
                        acknowledged.append(mac)
            except aiohttp.ClientError:
                pass  # cut off by the kill: not acknowledged

        async with aiohttp.ClientSession() as session:
            writers = [asyncio.create_task(add(session, i)) for i in range(600)]
            while len(acknowledged) < 100:
                await asyncio.sleep(0.005)
            service.kill()
            await asyncio.gather(*writers)
    finally:
        if service.poll() is None:
            service.kill()
        service.communicate(timeout=20)
    assert 100 <= len(acknowledged) < 600

    again = start(tmp_path / "data", port)
    try:
        wait_healthy(port, again)
        missing = [mac for mac in acknowledged if "Rack" not in json.dumps(ask(port, f"status {mac}"))]
    finally:
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=20)
    assert missing == []


async def test_a_store_with_a_device_in_an_unknown_state_does_not_start(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from provisioning.devices import new_device
    from storage import open_store

    mac = "00-1A-2B-3C-4D-5E"
    store = await open_store(tmp_path / "data")
    await store.tenant("local").commit(save=[new_device("local", mac, "Lobby", datetime.now(UTC), "Ada")])
    await store.close()
    (path,) = (tmp_path / "data").glob("tenant-*.json")
    data = json.loads(path.read_text())
    (doc,) = data["devices"].values()
    doc["state"] = "bogus_state"
    path.write_text(json.dumps(data))
    content = path.read_bytes()

    service = start(tmp_path / "data", free_port())
    output, _ = service.communicate(timeout=20)
    assert service.returncode == 2, output
    assert str(path) in output and mac in output and "'bogus_state' is not one of" in output
    assert "did not start" in output and "Traceback" not in output
    assert path.read_bytes() == content


@pytest.mark.slow
async def test_notices_pending_at_a_kill_9_are_sent_after_the_restart(tmp_path: Path) -> None:
    """Issue 10: the connector refuses while devices provision; kill -9; every device whose
    provisioning was acknowledged is reported once the service is back."""
    import asyncio
    import re

    import aiohttp

    from tests.bot.connector import FakeConnector, serving

    fake = FakeConnector(fail_sends=10**9)
    async with serving(fake) as (_, service_url), aiohttp.ClientSession() as session:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        message = dict(json.loads((FIXTURES / "emulator_message.json").read_text()), serviceUrl=service_url,
                       deliveryMode="expectReplies")

        async def say(text: str) -> str:
            async with session.post(f"{base}/api/messages", json=dict(message, text=text)) as response:
                assert response.status == 200
                return await response.text()

        service = start(tmp_path / "data", port)
        acknowledged: list[str] = []
        try:
            await asyncio.to_thread(wait_healthy, port, service)
            codes = {}
            for n in range(40):
                mac = f"02-00-00-00-01-{n:02X}"
                await say(f"add {mac} Rack {n}")
                found = re.search(r"\d{4}-\d{4}-\d{4}", await say(f"code {mac}"))
                assert found, "the code card shows the code"
                codes[mac] = found.group(0)

            async def provision(mac: str) -> None:
                body = {"mac": mac, "verification_code": codes[mac], "model": "T55A", "manufacturer": "Yealink",
                        "firmware_version": "58.15.0.124"}
                try:
                    async with session.post(f"{base}/api/devices/provision", json=body) as response:
                        if response.status == 200:
                            acknowledged.append(mac)
                except aiohttp.ClientError:
                    pass  # cut off by the kill: not acknowledged

            burst = [asyncio.create_task(provision(mac)) for mac in codes]
            while len(acknowledged) < 20:
                await asyncio.sleep(0.002)
            service.kill()
            await asyncio.gather(*burst)
        finally:
            if service.poll() is None:
                service.kill()
            await asyncio.to_thread(service.communicate, timeout=20)
        assert fake.received == [], "nothing was delivered before the kill"

        fake.fail_sends = 0
        again = start(tmp_path / "data", port)
        try:
            await asyncio.to_thread(wait_healthy, port, again)
            async with asyncio.timeout(20):
                while not all(mac in json.dumps(fake.activities()) for mac in acknowledged):
                    await asyncio.sleep(0.05)
        finally:
            again.send_signal(signal.SIGTERM)
            output, _ = await asyncio.to_thread(again.communicate, timeout=20)
        assert again.returncode == 0, output


@pytest.mark.slow
async def test_sigterm_stops_the_service_while_a_notice_hangs_on_its_connector(tmp_path: Path) -> None:
    import asyncio
    import re

    import aiohttp

    from tests.bot.connector import FakeConnector, serving

    fake = FakeConnector(delay=120.0)  # answers nothing for two minutes
    async with serving(fake) as (_, service_url), aiohttp.ClientSession() as session:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        message = dict(json.loads((FIXTURES / "emulator_message.json").read_text()), serviceUrl=service_url,
                       deliveryMode="expectReplies")
        service = start(tmp_path / "data", port)
        try:
            await asyncio.to_thread(wait_healthy, port, service)
            mac = "02-00-00-00-02-01"
            async with session.post(f"{base}/api/messages", json=dict(message, text=f"add {mac} Lobby")):
                pass
            async with session.post(f"{base}/api/messages", json=dict(message, text=f"code {mac}")) as response:
                found = re.search(r"\d{4}-\d{4}-\d{4}", await response.text())
            assert found
            body = {"mac": mac, "verification_code": found.group(0), "model": "T55A", "firmware_version": "58.15.0.124"}
            async with session.post(f"{base}/api/devices/provision", json=body) as response:
                assert response.status == 200
            await asyncio.sleep(1.0)  # the notice is now hanging on the connector
            service.send_signal(signal.SIGTERM)
            output, _ = await asyncio.to_thread(service.communicate, timeout=10)
        finally:
            if service.poll() is None:
                service.kill()
                service.communicate()
        assert service.returncode == 0, output
        assert "unsent" in output and "outbox" in output, output
