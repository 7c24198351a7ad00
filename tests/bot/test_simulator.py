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


async def wait_for_line(screen: list[str], words: str, count: int = 1) -> None:
    """Until `count` lines of the screen hold `words` (the device prints after its request returns)."""
    async with asyncio.timeout(5):
        while sum(words in line for line in screen) < count:
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
    await wait_for_line(screen, "Provisioned for Contoso")
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


async def test_a_device_left_on_notices_the_sign_out_and_the_account_change(
        chat: ChatDriver, clock: FakeClock, tmp_path: Path) -> None:
    """The README's walk-through: provision --stay, sign in A, sign out, sign in B, switch to C."""
    await chat.say(f"add {MAC} Lobby")
    await chat.say(f"code {MAC}")
    code = chat.services.service.get_device("local", MAC).code.value
    device = simulator.Device(str(chat.client.make_url("/")), MAC, tmp_path / "state.json")
    screen: list[str] = []

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)
        await asyncio.sleep(0.01)

    async def sign_in(account: str, card: dict) -> None:
        await chat.submit(submit_data(card, "sign_in_approve") | {"account": account})
        await wait_for_line(screen, f"Signed in as {account}.")

    running = asyncio.create_task(simulator.provision(device, code, "Yealink T55A", "58.15.0.124", None,
                                                      say=screen.append, sleep=sleep, stay=True))
    try:
        await wait_for_line(screen, "Provisioned for Contoso")
        await sign_in("a@contoso.com", cards_in(await chat.say(f"signin {MAC}"))[0])
        assert "access_token" in (tmp_path / "state.json").read_text()

        confirm = cards_in(await chat.say(f"signout {MAC}"))[0]
        await chat.submit(submit_data(confirm, "sign_out_confirm"))
        await wait_for_line(screen, "Signed out by your admin")
        await sign_in("b@contoso.com", cards_in(await chat.say(f"signin {MAC}"))[0])

        switch = cards_in(await chat.say(f"signin {MAC} c@contoso.com"))[0]
        replies = await chat.submit(submit_data(switch, "switch_account_confirm"))
        await wait_for_line(screen, "Signed out by your admin", count=2)
        card = next(c for c in cards_in(replies) if "sign_in_approve" in str(c))
        await sign_in("c@contoso.com", card)
        assert not running.done()
    finally:
        running.cancel()
    codes = [line for line in screen if "confirms this code" in line]
    assert len(codes) == 3 and len(set(codes)) == 3, "a new code for every sign-in"

    # `device run` picks the signed-in device up from its state file
    again: list[str] = []
    resumed = asyncio.create_task(simulator.run(device, say=again.append, sleep=sleep))
    try:
        await wait_for_line(again, "Signed in as c@contoso.com.")
        confirm = cards_in(await chat.say(f"signout {MAC}"))[0]
        await chat.submit(submit_data(confirm, "sign_out_confirm"))
        await wait_for_line(again, "Signed out by your admin")
    finally:
        resumed.cancel()


async def test_a_device_left_on_asks_for_a_new_code_when_one_expires(
        chat: ChatDriver, clock: FakeClock, tmp_path: Path) -> None:
    await chat.say(f"add {MAC} Lobby")
    await chat.say(f"code {MAC}")
    code = chat.services.service.get_device("local", MAC).code.value
    device = simulator.Device(str(chat.client.make_url("/")), MAC, tmp_path / "state.json")
    screen: list[str] = []

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)
        await asyncio.sleep(0.01)

    running = asyncio.create_task(simulator.provision(device, code, "Yealink T55A", "58.15.0.124", None,
                                                      say=screen.append, sleep=sleep, stay=True))
    try:
        await wait_for_line(screen, "Provisioned for Contoso")
        await chat.say(f"signin {MAC}")
        await wait_for_line(screen, "Refresh code: a new code was asked for.")
        await wait_for_line(screen, "confirms this code", count=2)
    finally:
        running.cancel()
