"""The device simulator against the real app: the seed's whole flow and back."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.device_api import simulator
from provisioning.clock import FakeClock
from provisioning.devices import DeviceState
from tests.bot.chat import ChatDriver, cards_in, submit_data

MAC = "00-1A-2B-3C-4D-5E"


async def wait_for_state(chat: ChatDriver, state: DeviceState) -> None:
    async with asyncio.timeout(5):
        while chat.services.service.get_device("local", MAC).state is not state:
            await asyncio.sleep(0.01)


async def test_simulated_device_provisions_signs_in_and_resets(
        chat: ChatDriver, clock: FakeClock, tmp_path: Path) -> None:
    await chat.say(f"add {MAC} Lobby")
    await chat.say(f"code {MAC}")
    code = chat.services.service.get_device("local", MAC).code.value
    device = simulator.Device(str(chat.client.make_url("/")), MAC.lower().replace("-", ":"), tmp_path / "state.json")
    screen: list[str] = []

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)
        await asyncio.sleep(0.01)

    running = asyncio.create_task(simulator.provision(device, code, "Yealink T55A", "58.15.0.124", None,
                                                      say=screen.append, sleep=sleep))
    await wait_for_state(chat, DeviceState.WAITING_FOR_SIGN_IN)
    assert "Provisioned for Contoso" in screen[0]
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600
    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    user_code = chat.services.service.get_device("local", MAC).sign_in.user_code
    await chat.submit(submit_data(card, "sign_in_approve") | {"account": "lobby@contoso.com"})
    assert await asyncio.wait_for(running, 5) == "lobby@contoso.com"
    assert any(user_code[:4] in line and "confirms this code" in line for line in screen)
    assert screen[-1] == "[screen] Signed in as lobby@contoso.com."

    await simulator.reset(device, say=screen.append)
    assert chat.services.service.get_device("local", MAC).state is DeviceState.WAITING_ON_ACTIVATION
    assert not (tmp_path / "state.json").exists()


async def test_simulator_shows_the_bots_refusal(chat: ChatDriver, tmp_path: Path) -> None:
    device = simulator.Device(str(chat.client.make_url("/")), MAC, tmp_path / "state.json")
    with pytest.raises(simulator.DeviceError, match="invalid_code"):
        await simulator.provision(device, "1234-5678-9012", "T55A", "58.15.0.124", None, say=lambda _: None)
    with pytest.raises(simulator.DeviceError, match="provision the device first"):
        await simulator.reset(device, say=lambda _: None)
