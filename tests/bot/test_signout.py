"""Issue 13 over HTTP: remote sign-out, account change, the session check and the device's
Refresh code, with Emulator and Teams activities, the fake connector and the real store."""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from provisioning.clock import FakeClock
from provisioning.devices import DeviceState
from tests.bot.chat import OTHER_TENANT, ChatDriver, cards_in, in_tenant, renders_markup_from, submit_data, texts_in
from tests.bot.connector import Received
from tests.bot.test_device_api import GRANT, MAC, auth, code_of, provision, ready_device

A, B, C = "room-a@contoso.com", "room-b@contoso.com", "room-c@contoso.com"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", tenant_name="Contoso", device_rate_limit=1000,
                    notify_retry_seconds=(0.01, 0.01))


def device_state(chat: ChatDriver) -> Any:
    return chat.services.service.get_device("local", MAC)


async def session_of(chat: ChatDriver, access_token: str) -> tuple[int, dict[str, Any]]:
    response = await chat.client.get("/api/devices/session", headers=auth(access_token))
    return response.status, await response.json()


async def me(chat: ChatDriver, token: str) -> dict[str, Any]:
    response = await chat.client.get("/api/devices/me", headers=auth(token))
    assert response.status == 200, await response.text()
    return await response.json()


async def approve_and_collect(chat: ChatDriver, clock: FakeClock, token: str, card: dict[str, Any],
                              account: str) -> str:
    """Approve `account` on a sign-in card; the device polls and collects its access token."""
    grant = (await me(chat, token))["sign_in"]
    assert grant["user_code"] in json.dumps(card), "the card shows the code the device shows"
    await chat.submit(submit_data(card, "sign_in_approve") | {"account": account})
    clock.advance(seconds=6)
    poll = {"grant_type": GRANT, "device_code": grant["device_code"]}
    response = await chat.client.post("/api/devices/token", json=poll, headers=auth(token))
    assert response.status == 200, await response.text()
    tokens = await response.json()
    assert tokens["account"] == account
    return str(tokens["access_token"])


async def signed_in_device(chat: ChatDriver, clock: FakeClock, account: str = A) -> tuple[str, str]:
    """(device token, access token) of a device signed in as `account`."""
    token = await ready_device(chat)
    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    return token, await approve_and_collect(chat, clock, token, card, account)


async def notices_since(chat: ChatDriver, before: int, count: int) -> str:
    received = await chat.connector.wait_for(before + count)
    return "\n".join(texts_in([r]) for r in received[before:])


async def test_sign_in_as_a_sign_out_sign_in_as_b_switch_to_c(chat: ChatDriver, clock: FakeClock) -> None:
    token, access_a = await signed_in_device(chat, clock, A)
    status, session = await session_of(chat, access_a)
    assert status == 200 and session["mac"] == MAC and session["account"] == A and session["signed_in_at"]

    # sign out, after a confirmation naming the device, its location and the account
    confirm = cards_in(await chat.say(f"signout {MAC.lower()}"))[0]
    shown = texts_in([{"attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                        "content": confirm}]}])
    assert MAC in shown and "Building 2, room 2.14" in shown and A in shown
    assert device_state(chat).state is DeviceState.SIGNED_IN, "nothing happens before the confirmation"
    before = len(chat.connector.received)
    answer = texts_in(await chat.submit(submit_data(confirm, "sign_out_confirm")))
    assert "signed out" in answer
    told = await notices_since(chat, before, 2)  # a line, or a digest card naming it with what came before
    assert "was signed out of room-a@contoso.com" in told or (f"{MAC}\n signed out" in told and f"was {A}" in told)
    status, refused = await session_of(chat, access_a)
    assert status == 401 and refused["error"] == "invalid_token"
    seen = await me(chat, token)  # the device token still works: no factory reset
    assert (seen["state"], seen["account"], seen["sign_in"]) == ("waiting_for_sign_in", None, None)
    device = device_state(chat)
    assert device.model == "T55A" and device.firmware == "58.15.0.124" and device.code is None

    # sign in as B: no technician, no new verification code
    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    access_b = await approve_and_collect(chat, clock, token, card, B)
    assert (await session_of(chat, access_b))[1]["account"] == B
    assert (await session_of(chat, access_a))[0] == 401

    # switch to C: a confirmation from whom to whom, then the sign-in card for C
    switch = cards_in(await chat.say(f"signin {MAC} {C}"))[0]
    assert device_state(chat).account == B, "nothing happens before the confirmation"
    shown = json.dumps(switch)
    assert shown.index(B) < shown.index(C)
    before = len(chat.connector.received)
    replies = await chat.submit(submit_data(switch, "switch_account_confirm"))
    assert "Account change started" in texts_in(replies)
    assert (await session_of(chat, access_b))[0] == 401
    sign_in_card = next(c for c in cards_in(replies) if "sign_in_approve" in json.dumps(c))
    assert C in json.dumps(sign_in_card), "the new account is filled in"
    told = await notices_since(chat, before, 3)
    assert f"signed out {B} to sign in {C}" in told or f"{B} \u2192 {C}" in told
    access_c = await approve_and_collect(chat, clock, token, sign_in_card, C)
    status, session = await session_of(chat, access_c)
    assert status == 200 and session["account"] == C
    assert (await session_of(chat, access_b))[0] == 401

    # recorded: history, audit (who, from which account to which)
    history = texts_in(await chat.say(f"status {MAC}"))
    assert "signed out" in history and "account change" in history
    audit = [e for e in await chat.services.store.read_audit("local", MAC, limit=100)
             if e["action"] in ("device.signed_out", "device.account_changed")]
    assert [(e["action"], e["detail"]["from_account"], e["detail"]["to_account"]) for e in audit] == [
        ("device.signed_out", A, None), ("device.account_changed", B, C)]
    assert all(e["actor"]["source"] == "chat" and e["actor"]["name"] for e in audit)

    # provisioning with a code stays locked for a signed-in device
    refused_provision = await provision(chat, "123412341234")
    assert refused_provision.status == 409 and (await refused_provision.json())["error"] == "already_signed_in"


async def test_the_account_change_is_told_where_the_old_sign_in_was_done(chat: ChatDriver, clock: FakeClock) -> None:
    await signed_in_device(chat, clock, A)
    other = {"id": "other-conversation|livechat"}
    switch = cards_in(await chat.say(f"signin {MAC} {B}", conversation=other))[0]
    before = len(chat.connector.received)
    await chat.submit(submit_data(switch, "switch_account_confirm"), conversation=other)
    def about_the_change(r: Received) -> bool:
        text = texts_in([r.body])
        return f"signed out {A} to sign in {B}" in text or f"{A} \u2192 {B}" in text

    async with asyncio.timeout(10):  # after what came before it, paced: one message per 2 s
        while not any(about_the_change(r) for r in chat.connector.received[before:]):
            await chat.connector.wait_for(len(chat.connector.received) + 1, timeout=10)
    told = [r for r in chat.connector.received[before:] if about_the_change(r)]
    assert len(told) == 1 and told[0].conversation_id != "other-conversation|livechat"


async def test_sign_out_from_the_status_card_and_the_signed_in_tab(chat: ChatDriver, clock: FakeClock) -> None:
    await signed_in_device(chat, clock)
    status = cards_in(await chat.say(f"status {MAC}"))[0]
    confirm = cards_in(await chat.submit(submit_data(status, "sign_out_request")))[0]
    assert A in json.dumps(confirm)
    await chat.submit(submit_data(confirm, "sign_out_cancel"))
    assert device_state(chat).state is DeviceState.SIGNED_IN
    tab = cards_in(await chat.say("list signedin"))[0]
    confirm = cards_in(await chat.submit(submit_data(tab, "sign_out_request")))[0]
    await chat.submit(submit_data(confirm, "sign_out_confirm"))
    assert device_state(chat).state is DeviceState.WAITING_FOR_SIGN_IN


async def test_sign_out_of_a_device_that_is_not_signed_in_is_refused(chat: ChatDriver) -> None:
    await ready_device(chat)
    before = device_state(chat)
    replies = await chat.say(f"signout {MAC}")
    assert not cards_in(replies) and "is not signed in" in texts_in(replies)
    await chat.say(f"signin {MAC}")
    pending = texts_in(await chat.say(f"signout {MAC}"))
    assert "waiting for approval" in pending and "Cancel it on the sign-in card" in pending
    assert before.state is DeviceState.WAITING_FOR_SIGN_IN
    assert device_state(chat).history[-1].action == "sign-in started", "the refusals changed nothing"


async def test_another_tenants_device_cannot_be_signed_out(teams_chat: ChatDriver, clock: FakeClock) -> None:
    await teams_chat.say(f"add {MAC} Lobby", sample="teams_personal_message")
    body = in_tenant(teams_chat.activity("teams_personal_message", text=f"signout {MAC}"), OTHER_TENANT)
    assert "not one of this tenant's devices" in texts_in(await teams_chat.send(body))


async def test_a_replayed_or_stale_confirmation_changes_nothing(chat: ChatDriver, clock: FakeClock) -> None:
    token, _ = await signed_in_device(chat, clock, A)
    cancelled = cards_in(await chat.say(f"signout {MAC}"))[0]
    await chat.submit(submit_data(cancelled, "sign_out_cancel"))
    assert "already used" in texts_in(await chat.submit(submit_data(cancelled, "sign_out_confirm")))
    assert device_state(chat).state is DeviceState.SIGNED_IN
    first = cards_in(await chat.say(f"signout {MAC}"))[0]
    switch = cards_in(await chat.say(f"signin {MAC} {C}"))[0]
    await chat.submit(submit_data(first, "sign_out_confirm"))
    assert "nothing was changed" in texts_in(await chat.submit(submit_data(first, "sign_out_confirm")))

    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    await approve_and_collect(chat, clock, token, card, B)
    signed_in_as_b = device_state(chat)
    stale = cards_in(await chat.say(f"signout {MAC}"))[0]  # for B's session
    await chat.submit(submit_data(stale, "sign_out_cancel"))
    for old, action in ((switch, "switch_account_confirm"), (first, "sign_out_confirm")):
        answer = texts_in(await chat.submit(submit_data(old, action)))
        assert "nothing was changed" in answer or "already used" in answer
    assert device_state(chat) == signed_in_as_b

    forged = submit_data(cards_in(await chat.say(f"signin {MAC} {C}"))[0], "switch_account_confirm")
    answer = texts_in(await chat.submit(forged | {"account": "someone-else@contoso.com"}))
    assert "nothing was changed" in answer and device_state(chat) == signed_in_as_b
    await chat.submit(forged)
    assert device_state(chat).sign_in.account == C, "the real card still works"


@pytest.mark.parametrize("account", ["not-an-account", "[x](https://evil.example)@contoso.com", "a@b"])
async def test_an_invalid_account_for_a_change_is_refused_literally(
        chat: ChatDriver, clock: FakeClock, account: str) -> None:
    await signed_in_device(chat, clock, A)
    before = device_state(chat)
    replies = await chat.say(f'signin {MAC} "{account}"')
    said = "\n".join(r.get("text") or "" for r in replies)
    assert not cards_in(replies) and "user principal name" in said and not renders_markup_from(said)
    assert "already signed in" in texts_in(await chat.say(f"signin {MAC} {A.upper()}"))
    assert device_state(chat) == before


async def test_signin_without_an_account_on_a_signed_in_device_says_how(chat: ChatDriver, clock: FakeClock) -> None:
    await signed_in_device(chat, clock, A)
    text = texts_in(await chat.say(f"signin {MAC}"))
    assert "already signed in as room" in text and f"signout {MAC}" in text


async def test_a_sign_out_racing_the_token_poll_leaves_no_live_token(chat: ChatDriver, clock: FakeClock) -> None:
    """The admin confirms a sign-out of an approved sign-in while the device polls for it."""
    token = await ready_device(chat)
    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    grant = (await me(chat, token))["sign_in"]
    await chat.submit(submit_data(card, "sign_in_approve") | {"account": A})
    confirm = cards_in(await chat.say(f"signout {MAC}"))[0]
    assert "before the device collects it" in json.dumps(confirm)
    clock.advance(seconds=6)
    poll = {"grant_type": GRANT, "device_code": grant["device_code"]}
    polled, _ = await asyncio.gather(chat.client.post("/api/devices/token", json=poll, headers=auth(token)),
                                     chat.submit(submit_data(confirm, "sign_out_confirm")))
    answer = await polled.json()
    assert device_state(chat).state is DeviceState.WAITING_FOR_SIGN_IN
    if polled.status == 200:
        assert (await session_of(chat, answer["access_token"]))[0] == 401
    else:
        assert answer["error"] == "access_denied"
    assert (await me(chat, token))["account"] is None


async def test_refresh_code_from_the_device(chat: ChatDriver, clock: FakeClock) -> None:
    token = await ready_device(chat)
    await chat.say(f"signin {MAC}")
    pending = await chat.client.post("/api/devices/signin", headers=auth(token))
    assert pending.status == 409 and (await pending.json())["error"] == "sign_in_pending"

    clock.advance(minutes=16)  # the admin's grant expired: the device asks for a new code
    before = len(chat.connector.received)
    response = await chat.client.post("/api/devices/signin", headers=auth(token))
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["state"] == "signing_in" and body["sign_in"]["expires_in"] == 900
    assert (await me(chat, token))["sign_in"]["user_code"] == body["sign_in"]["user_code"]
    await chat.connector.wait_for(before + 1)
    notice = chat.connector.received[before].body
    card = cards_in([notice])[0]
    assert "asked for a new sign-in code" in (notice.get("text") or notice.get("summary") or "")
    assert body["sign_in"]["user_code"] in json.dumps(card)

    # the admin approves on that card; the device collects its token
    await chat.submit(submit_data(card, "sign_in_approve") | {"account": A})
    assert "already used" in texts_in(await chat.submit(submit_data(card, "sign_in_approve") | {"account": B}))
    clock.advance(seconds=6)
    poll = {"grant_type": GRANT, "device_code": body["sign_in"]["device_code"]}
    done = await chat.client.post("/api/devices/token", json=poll, headers=auth(token))
    assert done.status == 200 and (await done.json())["account"] == A
    signed = await chat.client.post("/api/devices/signin", headers=auth(token))
    assert signed.status == 409 and (await signed.json())["error"] == "already_signed_in"


async def test_refresh_code_is_limited_to_one_a_minute(chat: ChatDriver, clock: FakeClock) -> None:
    token = await ready_device(chat)
    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    await chat.submit(submit_data(card, "sign_in_cancel"))  # denied: the device may ask again
    clock.advance(seconds=20)
    too_soon = await chat.client.post("/api/devices/signin", headers=auth(token))
    assert too_soon.status == 429 and too_soon.headers["Retry-After"] == "40"
    assert (await too_soon.json())["error"] == "too_many_requests"
    clock.advance(seconds=40)
    assert (await chat.client.post("/api/devices/signin", headers=auth(token))).status == 200
    assert (await chat.client.post("/api/devices/signin", headers=auth(token))).status == 409
    assert (await chat.client.post("/api/devices/signin", headers=auth("forged.token.x"))).status == 401


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer a.b.c", "Basic Zm9v"])
async def test_the_session_check_refuses_bad_tokens(chat: ChatDriver, clock: FakeClock, header: str) -> None:
    token, _ = await signed_in_device(chat, clock)
    for value in (header, f"Bearer {token}"):
        response = await chat.client.get("/api/devices/session", headers={"Authorization": value} if value else {})
        assert response.status == 401 and (await response.json())["error"] == "invalid_token"
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_a_factory_reset_ends_the_session(chat: ChatDriver, clock: FakeClock) -> None:
    token, access = await signed_in_device(chat, clock)
    await chat.client.post("/api/devices/factory-reset", headers=auth(token))
    assert (await session_of(chat, access))[0] == 401
    await chat.say(f"code {MAC}")
    assert (await provision(chat, code_of(chat))).status == 200


async def test_no_session_secret_reaches_the_logs(chat: ChatDriver, clock: FakeClock, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        token, access = await signed_in_device(chat, clock)
        await session_of(chat, access)
        confirm = cards_in(await chat.say(f"signout {MAC}"))[0]
        await chat.submit(submit_data(confirm, "sign_out_confirm"))
        clock.advance(minutes=2)
        await chat.client.post("/api/devices/signin", headers=auth(token))
    for secret in (token, access, access.rsplit(".", 1)[1]):
        assert secret not in caplog.text
