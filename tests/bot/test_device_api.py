"""Issue 6 over HTTP: the device API, remote sign-in from the chat, and admin notices."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.app import create_app
from bot.settings import Settings
from provisioning.clock import FakeClock
from tests.bot.chat import ChatDriver, cards_in, submit_data, texts_in
from tests.bot.conftest import fast_notices

MAC = "00-1A-2B-3C-4D-5E"
T55A = {"model": "T55A", "manufacturer": "Yealink", "firmware_version": "58.15.0.124"}
GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_notices(data_dir=tmp_path / "data", tenant_name="Contoso", device_rate_limit=1000,
                        notify_retry_seconds=(0.01, 0.01))


def code_of(chat: ChatDriver, mac: str = MAC) -> str:
    return chat.services.service.get_device("local", mac).code.value


async def provision(chat: ChatDriver, code: str, mac: str = MAC, **overrides: str):
    body = {"mac": mac, "verification_code": code, **T55A, **overrides}
    return await chat.client.post("/api/devices/provision", json=body)


async def ready_device(chat: ChatDriver) -> str:
    """Added, coded and provisioned; returns the device token."""
    await chat.say(f"add {MAC} Building 2, room 2.14")
    await chat.say(f"code {MAC}")
    response = await provision(chat, code_of(chat))
    assert response.status == 200, await response.text()
    return (await response.json())["device_token"]


async def poll_error(chat: ChatDriver, poll: dict[str, str], token: str) -> str:
    """The `error` of one token poll."""
    return str((await (await chat.client.post("/api/devices/token", json=poll, headers=auth(token))).json())["error"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def notices(chat: ChatDriver, count: int) -> list[str]:
    received = await chat.connector.wait_for(count)
    return [a.get("text") or "" for a in received]


async def test_the_whole_flow_from_add_to_signed_in_and_back(chat: ChatDriver, clock: FakeClock) -> None:
    await chat.say(f"add {MAC} Building 2, room 2.14")
    await chat.say(f"code {MAC}")
    code = code_of(chat)
    response = await provision(chat, f"{code[:4]}-{code[4:8]}-{code[8:]}")
    assert response.status == 200
    body = await response.json()
    assert body["tenant_name"] == "Contoso" and body["state"] == "waiting_for_sign_in"
    token = body["device_token"]
    sent = len(chat.connector.received)
    text = "\n".join(await notices(chat, sent + 1))
    assert "was provisioned" in text and "58.15.0.124" in text and "room 2.14" in text

    # the admin starts the sign-in; the card shows the device's user code
    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    me = await (await chat.client.get("/api/devices/me", headers=auth(token))).json()
    grant = me["sign_in"]
    assert grant["user_code"] in json.dumps(card)
    assert grant["interval"] == 5 and grant["expires_in"] > 0 and grant["verification_uri"].startswith("http")
    page = await chat.client.get("/" + grant["verification_uri"].split("/", 3)[3])
    assert page.status == 200 and "Sign in a Teams device" in await page.text()

    poll = {"grant_type": GRANT, "device_code": grant["device_code"]}
    pending = await chat.client.post("/api/devices/token", data=poll, headers=auth(token))
    assert pending.status == 400 and (await pending.json())["error"] == "authorization_pending"

    sent = len(chat.connector.received)
    await chat.submit(submit_data(card, "sign_in_approve") | {"account": "room-214@contoso.com"})
    clock.advance(seconds=6)
    done = await chat.client.post("/api/devices/token", json=poll, headers=auth(token))
    assert done.status == 200, await done.text()
    tokens = await done.json()
    assert tokens["token_type"] == "Bearer" and tokens["account"] == "room-214@contoso.com" and tokens["access_token"]
    assert "signed in as room-214@contoso.com" in "\n".join(await notices(chat, sent + 2))

    refused = await provision(chat, code)
    assert refused.status == 409 and (await refused.json())["error"] == "already_signed_in"
    assert "factory reset" in texts_in(await chat.say(f"code {MAC}")).lower()

    reset = await chat.client.post("/api/devices/factory-reset", headers=auth(token))
    assert reset.status == 200 and (await reset.json())["state"] == "waiting_on_activation"
    assert (await chat.client.get("/api/devices/me", headers=auth(token))).status == 401
    await chat.say(f"code {MAC}")
    again = await provision(chat, code_of(chat))
    assert again.status == 200


@pytest.mark.parametrize("body", [
    {}, {"mac": MAC}, {"mac": "nope", "verification_code": "1", **T55A}, [], "text",
    {"mac": MAC, "verification_code": 123456789012, **T55A},
])
async def test_malformed_provision_requests_are_400(chat: ChatDriver, body: object) -> None:
    response = await chat.client.post("/api/devices/provision", json=body)
    assert response.status == 400
    payload = await response.json()
    assert payload["error"] == "invalid_request" and payload["message"]


async def test_non_json_provision_body_is_400(chat: ChatDriver) -> None:
    response = await chat.client.post("/api/devices/provision", data=b"\xff\x00garbage")
    assert response.status == 400


async def test_wrong_code_and_unknown_mac_get_the_same_answer(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC}")
    await chat.say(f"code {MAC}")
    wrong = await provision(chat, "000000000000" if code_of(chat) != "000000000000" else "111111111111")
    unknown = await provision(chat, "123412341234", mac="02-11-22-33-44-55")
    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json()


async def test_expired_code_is_410(chat: ChatDriver, clock: FakeClock) -> None:
    await chat.say(f"add {MAC}")
    await chat.say(f"code {MAC}")
    clock.advance(hours=24, seconds=1)
    response = await provision(chat, code_of(chat))
    assert response.status == 410 and (await response.json())["error"] == "code_expired"


@pytest.mark.parametrize("overrides,error", [
    ({"firmware_version": "58.15.0.100"}, "firmware_too_old"),
    ({"model": "Nokia 3310", "manufacturer": "Nokia"}, "unsupported_device"),
])
async def test_unsupported_device_or_old_firmware_is_422(chat: ChatDriver, overrides: dict, error: str) -> None:
    await chat.say(f"add {MAC}")
    await chat.say(f"code {MAC}")
    response = await provision(chat, code_of(chat), **overrides)
    payload = await response.json()
    assert response.status == 422 and payload["error"] == error
    if error == "firmware_too_old":
        assert payload["minimum_version"] == "58.15.0.124"
    assert chat.services.service.get_device("local", MAC).code is not None, "code not spent"


async def test_five_wrong_codes_lock_the_mac_and_tell_the_admin(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    await chat.say(f"code {MAC}")
    good = code_of(chat)
    wrong = "999999999999" if good != "999999999999" else "888888888888"
    sent = len(chat.connector.received)
    for _ in range(5):
        assert (await provision(chat, wrong)).status == 401
    locked = await provision(chat, good)
    assert locked.status == 429 and locked.headers["Retry-After"].isdigit()
    assert "locked" in "\n".join(await notices(chat, sent + 1))
    await chat.say(f"code {MAC}")
    assert (await provision(chat, code_of(chat))).status == 200


async def test_rate_limit_per_client_address(aiohttp_client, tmp_path: Path, clock) -> None:
    client = await aiohttp_client(await create_app(Settings(data_dir=tmp_path / "d", device_rate_limit=3), clock=clock))
    statuses = []
    for _ in range(4):
        response = await client.post("/api/devices/provision",
                                     json={"mac": MAC, "verification_code": "123412341234", **T55A})
        statuses.append(response.status)
    assert statuses == [401, 401, 401, 429]
    assert int(response.headers["Retry-After"]) > 0


async def test_polling_too_fast_is_slow_down_and_the_interval_grows(chat: ChatDriver, clock: FakeClock) -> None:
    token = await ready_device(chat)
    await chat.say(f"signin {MAC}")
    me = await (await chat.client.get("/api/devices/me", headers=auth(token))).json()
    poll = {"grant_type": GRANT, "device_code": me["sign_in"]["device_code"]}
    assert await poll_error(chat, poll, token) == "authorization_pending"
    clock.advance(seconds=1)
    fast = await (await chat.client.post("/api/devices/token", json=poll, headers=auth(token))).json()
    assert fast["error"] == "slow_down" and fast["interval"] == 10
    clock.advance(seconds=6)
    assert await poll_error(chat, poll, token) == "slow_down"
    clock.advance(seconds=16)
    assert await poll_error(chat, poll, token) == "authorization_pending"


async def test_cancel_denies_the_grant(chat: ChatDriver) -> None:
    token = await ready_device(chat)
    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    me = await (await chat.client.get("/api/devices/me", headers=auth(token))).json()
    await chat.submit(submit_data(card, "sign_in_cancel"))
    poll = {"grant_type": GRANT, "device_code": me["sign_in"]["device_code"]}
    denied = await chat.client.post("/api/devices/token", json=poll, headers=auth(token))
    assert (await denied.json())["error"] == "access_denied"


async def test_an_expired_grant_says_so_and_offers_a_new_one(chat: ChatDriver, clock: FakeClock) -> None:
    token = await ready_device(chat)
    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    me = await (await chat.client.get("/api/devices/me", headers=auth(token))).json()
    clock.advance(minutes=16)
    poll = {"grant_type": GRANT, "device_code": me["sign_in"]["device_code"]}
    assert await poll_error(chat, poll, token) == "expired_token"
    await chat.submit(submit_data(card, "sign_in_approve") | {"account": "a@contoso.com"})
    update = [r for r in chat.connector.received if r.method == "update"][-1]
    assert "expired" in json.dumps(update.body).lower()
    assert "sign_in_start" in json.dumps(update.body)


async def test_an_invalid_account_comes_back_on_the_card(chat: ChatDriver) -> None:
    await ready_device(chat)
    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    await chat.submit(submit_data(card, "sign_in_approve") | {"account": "not an account"})
    update = [r for r in chat.connector.received if r.method == "update"][-1]
    assert "not an account" in json.dumps(update.body)
    assert chat.services.service.get_device("local", MAC).sign_in.approved_by is None


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer abc.def.ghi", "Basic Zm9v"])
async def test_stolen_or_malformed_tokens_are_refused(chat: ChatDriver, header: str) -> None:
    await ready_device(chat)
    response = await chat.client.get("/api/devices/me", headers={"Authorization": header} if header else {})
    assert response.status == 401 and (await response.json())["error"] == "invalid_token"


async def test_a_token_with_another_secret_is_refused(chat: ChatDriver) -> None:
    token = await ready_device(chat)
    tenant, mac, secret = token.split(".")
    forged = f"{tenant}.{mac}.{'A' * len(secret)}"
    assert (await chat.client.get("/api/devices/me", headers=auth(forged))).status == 401


async def test_a_failing_notice_is_retried(chat: ChatDriver, caplog) -> None:
    await chat.say(f"add {MAC} Lobby")
    await chat.say(f"code {MAC}")
    chat.connector.fail_sends = 1
    sent = len(chat.connector.received)
    with caplog.at_level(logging.WARNING):
        assert (await provision(chat, code_of(chat))).status == 200
        text = "\n".join(await notices(chat, sent + 1))
    assert "was provisioned" in text
    assert "attempt 1" in caplog.text


async def test_no_secret_reaches_the_logs(chat: ChatDriver, caplog, clock: FakeClock) -> None:
    with caplog.at_level(logging.DEBUG):
        token = await ready_device(chat)
        code = code_of(chat) if chat.services.service.get_device("local", MAC).code else None
        card = cards_in(await chat.say(f"signin {MAC}"))[0]
        me = await (await chat.client.get("/api/devices/me", headers=auth(token))).json()
        await chat.submit(submit_data(card, "sign_in_approve") | {"account": "a@contoso.com"})
        clock.advance(seconds=6)
        poll = {"grant_type": GRANT, "device_code": me["sign_in"]["device_code"]}
        tokens = await (await chat.client.post("/api/devices/token", json=poll, headers=auth(token))).json()
    secrets = [token, token.split(".")[-1], me["sign_in"]["device_code"], tokens["access_token"]]
    for secret in secrets:
        assert secret not in caplog.text
    assert code is None, "the code is spent on provisioning"


async def test_a_malformed_request_is_400_even_past_the_rate_limit(aiohttp_client, tmp_path: Path, clock) -> None:
    client = await aiohttp_client(await create_app(Settings(data_dir=tmp_path / "d", device_rate_limit=1), clock=clock))
    good = {"mac": MAC, "verification_code": "123412341234", **T55A}
    assert (await client.post("/api/devices/provision", json=good)).status == 401
    assert (await client.post("/api/devices/provision", json=good)).status == 429
    bad = await client.post("/api/devices/provision", json=good | {"mac": "nope"})
    assert bad.status == 400 and (await bad.json())["error"] == "invalid_request"


async def test_undecodable_form_and_token_bytes_are_refused_cleanly(chat: ChatDriver) -> None:
    token = await ready_device(chat)
    form = await chat.client.post("/api/devices/token", data=b"grant_type=\xff\xfe&device_code=\xc3",
                                  headers={**auth(token), "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 400
    tenant, mac, _ = token.split(".")
    raw = f"Bearer {tenant}.{mac}.".encode() + b"\xff\xfe"
    response = await chat.client.get("/api/devices/me", headers={"Authorization": raw.decode("latin-1")})
    assert response.status == 401


async def test_a_device_signed_in_in_one_tenant_does_not_block_a_waiting_one_elsewhere(
        chat: ChatDriver, clock: FakeClock) -> None:
    """Tenant A signs in a device with B's MAC; B's real device still provisions with B's code."""
    from provisioning.audit import Actor

    runtime = chat.services
    admin_b = Actor("admin-b", "Admin B", "chat")
    token = await ready_device(chat)  # tenant "local" owns MAC, provisioned
    await runtime.service.start_sign_in("local", Actor("a", "A", "chat"), MAC)
    await runtime.service.approve_sign_in("local", Actor("a", "A", "chat"), MAC, "x@contoso.com")
    grant = runtime.service.get_device("local", MAC).sign_in
    clock.advance(seconds=6)
    await runtime.devices.poll_token(token, grant.device_code)
    assert runtime.service.get_device("local", MAC).state.value == "signed_in"

    await runtime.service.add_device("tenant-b", admin_b, MAC, "B lobby")
    issued = await runtime.service.issue_code("tenant-b", admin_b, MAC)
    wrong = "000011112222" if issued.code.value != "000011112222" else "333344445555"
    assert (await provision(chat, wrong)).status == 409
    response = await provision(chat, issued.code.value)
    assert response.status == 200, await response.text()
    assert runtime.service.get_device("tenant-b", MAC).state.value == "waiting_for_sign_in"


async def test_an_older_sign_in_card_cannot_approve_a_newer_sign_in(chat: ChatDriver, clock: FakeClock) -> None:
    await ready_device(chat)
    first = cards_in(await chat.say(f"signin {MAC}"))[0]
    clock.advance(minutes=16)
    await chat.say(f"signin {MAC}")
    text = texts_in(await chat.submit(submit_data(first, "sign_in_approve") | {"account": "a@contoso.com"}))
    assert "not the current one" in text
    assert chat.services.service.get_device("local", MAC).sign_in.approved_by is None


async def test_a_sign_in_card_left_over_after_a_reset_does_nothing(chat: ChatDriver) -> None:
    token = await ready_device(chat)
    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    await chat.client.post("/api/devices/factory-reset", headers=auth(token))
    for account in ("not an account", "a@contoso.com"):
        text = texts_in(await chat.submit(submit_data(card, "sign_in_approve") | {"account": account}))
        assert "nothing was changed" in text and "Sorry" not in text


async def test_device_reported_text_cannot_plant_links_in_notices(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    await chat.say(f"code {MAC}")
    sent = len(chat.connector.received)
    catalog_model = {"model": "T55A", "manufacturer": "Yealink [click me](https://evil.example)"}
    response = await provision(chat, code_of(chat), **catalog_model)
    assert response.status == 200
    text = "\n".join(await notices(chat, sent + 1))
    assert "](https://evil.example)" not in text and "\\[click me\\]\\(https://evil.example\\)" in text


async def test_a_lost_sign_in_card_can_be_shown_again_and_the_old_one_still_works(chat: ChatDriver) -> None:
    await ready_device(chat)
    first = cards_in(await chat.say(f"signin {MAC}"))[0]
    again = cards_in(await chat.say(f"signin {MAC}"))[0]
    user_code = chat.services.service.get_device("local", MAC).sign_in.user_code
    assert f"{user_code[:4]}-{user_code[4:]}" in json.dumps(again), "the same pending sign-in, shown again"
    await chat.submit(submit_data(first, "sign_in_approve") | {"account": "a@contoso.com"})
    assert chat.services.service.get_device("local", MAC).sign_in.approved_by is not None


async def test_unknown_and_registered_macs_lock_alike(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    await chat.say(f"code {MAC}")
    wrong = "999999999999" if code_of(chat) != "999999999999" else "888888888888"
    answers = {}
    for mac in (MAC, "02-11-22-33-44-55"):
        statuses = [(await provision(chat, wrong, mac=mac)).status for _ in range(6)]
        answers[mac] = statuses
    assert answers[MAC] == answers["02-11-22-33-44-55"] == [401] * 5 + [429]


@pytest.mark.parametrize("endpoint", ["provision", "me", "token", "factory-reset"])
async def test_an_unexpected_failure_is_a_503_with_an_error_id_never_a_bare_500(
        chat: ChatDriver, caplog, monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("internal detail 123412341234")

    devices = chat.services.devices
    for name in ("provision", "device_view", "poll_token", "factory_reset"):
        monkeypatch.setattr(devices, name, broken)
    await chat.say(f"add {MAC}")
    await chat.say(f"code {MAC}")
    token = "dGVzdA.00-1A-2B-3C-4D-5E.secret"
    requests = {
        "provision": lambda: provision(chat, code_of(chat)),
        "me": lambda: chat.client.get("/api/devices/me", headers=auth(token)),
        "token": lambda: chat.client.post("/api/devices/token", headers=auth(token),
                                          json={"grant_type": GRANT, "device_code": "x"}),
        "factory-reset": lambda: chat.client.post("/api/devices/factory-reset", headers=auth(token)),
    }
    with caplog.at_level(logging.ERROR):
        response = await requests[endpoint]()
    payload = await response.json()
    assert response.status == 503 and response.headers["Retry-After"] == "60"
    assert payload["error"] == "temporarily_unavailable" and "internal detail" not in payload["message"]
    error_id = payload["message"].split("error id ")[1].split(")")[0]
    assert f"error id {error_id}" in caplog.text and "RuntimeError: internal detail" in caplog.text


def store_bytes(chat: ChatDriver) -> int:
    """The size of every file in the data directory (TinyDB files, journals, audit logs)."""
    return sum(path.stat().st_size for path in chat.data_directory.iterdir() if path.is_file())


async def test_a_provisioned_mac_locks_like_an_unknown_one_and_wrong_codes_write_nothing(chat: ChatDriver) -> None:
    await ready_device(chat)  # MAC is now waiting for sign in
    answers = {}
    for mac in (MAC, "02-11-22-33-44-55"):
        before = store_bytes(chat)
        responses = [await provision(chat, "000011112222", mac=mac) for _ in range(6)]
        answers[mac] = [(r.status, (await r.json())["error"]) for r in responses]
        assert store_bytes(chat) == before, f"wrong codes for {mac} were written to the store"
    assert answers[MAC] == answers["02-11-22-33-44-55"] == [(401, "invalid_code")] * 5 + [(429, "too_many_attempts")]


async def test_token_polls_write_nothing_and_only_the_sign_in_is_durable(chat: ChatDriver, clock: FakeClock) -> None:
    import shutil

    from storage import open_store

    token = await ready_device(chat)
    card = cards_in(await chat.say(f"signin {MAC}"))[0]
    me = await (await chat.client.get("/api/devices/me", headers=auth(token))).json()
    poll = {"grant_type": GRANT, "device_code": me["sign_in"]["device_code"]}
    before = store_bytes(chat)
    answers = []
    for _ in range(100):  # at the interval
        clock.advance(seconds=5)
        answers.append(await poll_error(chat, poll, token))
    assert answers == ["authorization_pending"] * 100
    intervals = []
    for _ in range(100):  # as fast as it can: each one is slowed down by 5 s more
        response = await chat.client.post("/api/devices/token", json=poll, headers=auth(token))
        payload = await response.json()
        assert (response.status, payload["error"]) == (400, "slow_down")
        intervals.append(payload["interval"])
    assert intervals == list(range(10, 510, 5))
    assert store_bytes(chat) == before, "200 token polls wrote to the store"
    me = await (await chat.client.get("/api/devices/me", headers=auth(token))).json()
    assert me["sign_in"]["interval"] == 505

    await chat.submit(submit_data(card, "sign_in_approve") | {"account": "a@contoso.com"})
    clock.advance(seconds=5)  # the grant (15 min) would expire before 505 s more: collected at once
    response = await chat.client.post("/api/devices/token", json=poll, headers=auth(token))
    assert response.status == 200 and (await response.json())["account"] == "a@contoso.com"
    copy = chat.data_directory.parent / "reopened"
    shutil.copytree(chat.data_directory, copy)  # as a kill -9 would leave it
    reopened = await open_store(copy)
    try:
        device = reopened.tenant("local").get(MAC)
        assert device is not None and (device.state.value, device.account) == ("signed_in", "a@contoso.com")
    finally:
        await reopened.close()
