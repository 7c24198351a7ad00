"""/api/messages over HTTP: status codes, both delivery modes, health check."""
from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import aiohttp
import pytest

from bot.app import create_app
from bot.settings import Settings
from tests.bot.chat import ChatDriver, cards_in


async def test_healthz_answers_ok(chat: ChatDriver) -> None:
    response = await chat.client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


async def test_expect_replies_returns_the_help_card_in_the_body(chat: ChatDriver) -> None:
    replies = await chat.expect_replies(chat.activity(text="help"))
    assert len(replies) == 1
    assert replies[0]["type"] == "message"
    assert cards_in(replies), "help answers with a card"
    assert chat.connector.received == [], "expectReplies sends nothing over HTTP"


async def test_normal_delivery_posts_the_reply_to_the_service_url(chat: ChatDriver) -> None:
    body = chat.activity(text="help")
    replies = await chat.send(body)
    assert len(replies) == 1
    received = chat.connector.received[0]
    assert received.method == "reply"
    assert received.activity_id == body["id"]
    assert received.conversation_id == body["conversation"]["id"]
    assert replies[0]["replyToId"] == body["id"]


async def test_non_json_body_is_415(chat: ChatDriver) -> None:
    response = await chat.client.post("/api/messages", data="help", headers={"Content-Type": "text/plain"})
    assert response.status == 415


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"text": "help"}', b'{"type": 3}', b'{"type": ""}', b"null"])
async def test_json_that_is_not_an_activity_is_400(chat: ChatDriver, body: bytes) -> None:
    response = await chat.client.post("/api/messages", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert "error" in await response.json()


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz",
                                           "Bearer eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl"])
async def test_with_an_app_id_a_bad_or_missing_token_is_401(
        aiohttp_client, tmp_path: Path, connector, authorization) -> None:
    fake, url = connector
    settings = Settings(data_dir=tmp_path / "data", app_id="0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e", app_password="x")
    client = await aiohttp_client(await create_app(settings))
    driver = ChatDriver(client, fake, url)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await driver.post(driver.activity(text="help"), headers=headers)
    assert response.status == 401
    assert fake.received == []


async def test_invoke_returns_200_with_a_body(chat: ChatDriver) -> None:
    body = chat.activity(type="invoke", name="adaptiveCard/action", value={"action": {"type": "Action.Execute"}})
    body.pop("text")
    response = await chat.post(body)
    assert response.status == 200
    assert response.content_type == "application/json"


@pytest.mark.parametrize("kind", ["typing", "event", "installationUpdate", "messageReaction", "endOfConversation"])
async def test_other_activity_types_are_accepted_quietly(chat: ChatDriver, kind: str) -> None:
    body = chat.activity(type=kind)
    body.pop("text")
    response = await chat.post(body)
    assert response.status == 200
    assert chat.connector.received == []


async def test_a_message_whose_fields_have_the_wrong_types_is_400(chat: ChatDriver) -> None:
    body = chat.activity(text="help")
    body["from"] = "not an object"
    body["conversation"] = 12
    response = await chat.post(body)
    assert response.status == 400


@pytest.mark.parametrize("body", [
    {"type": "message", "text": "help"},
    {"type": "message", "text": "help", "serviceUrl": "http://127.0.0.1:9"},
    {"type": "message", "text": "help", "conversation": {"id": "x"}},
])
async def test_a_message_with_nowhere_to_reply_is_400(chat: ChatDriver, body: dict) -> None:
    response = await chat.post(body)
    assert response.status == 400


@pytest.mark.parametrize("env,variable", [
    ({"PORT": "abc"}, "PORT"), ({"PORT": "70000"}, "PORT"), ({"HOST": "bad host!"}, "HOST"),
    ({"PUBLIC_URL": "ftp://x"}, "PUBLIC_URL"), ({"MicrosoftAppType": "Other"}, "MicrosoftAppType"),
    ({"MicrosoftAppType": "SingleTenant", "MicrosoftAppId": "x"}, "MicrosoftAppTenantId"),
    ({"FIRMWARE_CATALOG": "/nonexistent.json"}, "FIRMWARE_CATALOG"), ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ({"HOST": "0.0.0.0"}, "HOST"), ({"HOST": "::"}, "HOST"), ({"HOST": "10.1.2.3"}, "HOST"),
    ({"HOST": "bot.example.com"}, "HOST"),
    ({"HOST": "0.0.0.0", "ALLOW_UNAUTHENTICATED": "maybe"}, "ALLOW_UNAUTHENTICATED"),
])
def test_bad_settings_name_the_variable(env: dict, variable: str) -> None:
    from bot.settings import SettingsError

    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    assert raised.value.variable == variable


@pytest.mark.parametrize("env", [
    {"HOST": "0.0.0.0", "MicrosoftAppId": "app"}, {"HOST": "0.0.0.0", "ALLOW_UNAUTHENTICATED": "true"},
    {"HOST": "127.0.0.2"}, {"HOST": "::1"}, {"HOST": "localhost"},
])
def test_listening_beyond_loopback_needs_an_app_id_or_an_explicit_opt_out(env: dict) -> None:
    assert Settings.from_env(env).host == env["HOST"]


def test_default_settings_serve_the_emulator_locally() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.public_url) == ("127.0.0.1", 3978, "http://127.0.0.1:3978")
    assert not settings.auth_enabled and settings.is_admin("anyone")
    assert not Settings.from_env({"MicrosoftAppId": "app"}).is_admin("anyone")
    assert Settings.from_env({"ADMINS": "a, b"}).admins == frozenset({"a", "b"})


def chunked(body: bytes, sent: list[int], chunk: int = 64 * 1024):
    """The body as a chunked upload (no Content-Length), counting the bytes the server took."""
    async def stream():
        for start in range(0, len(body), chunk):
            sent.append(start)
            yield body[start:start + chunk]
    return stream()


def padded_activity(driver: ChatDriver, size: int) -> bytes:
    body = driver.activity(text="add 00-1A-2B-3C-4D-5E")
    body["channelData"]["padding"] = "x" * size
    return json.dumps(body).encode()


async def test_a_chunked_activity_over_the_limit_is_413_and_not_run(chat: ChatDriver) -> None:
    sent: list[int] = []
    response = await chat.client.post("/api/messages", data=chunked(padded_activity(chat, 5 * 1024 * 1024), sent),
                                      headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert chat.connector.received == [] and chat.services.service.list_devices("local") == []


async def test_a_chunked_activity_under_the_limit_is_run(chat: ChatDriver) -> None:
    sent: list[int] = []
    response = await chat.client.post("/api/messages", data=chunked(padded_activity(chat, 200_000), sent),
                                      headers={"Content-Type": "application/json"})
    assert response.status == 200
    assert [d.mac for d in chat.services.service.list_devices("local")] == ["00-1A-2B-3C-4D-5E"]


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-jwt"])
async def test_with_an_app_id_no_token_is_refused_before_the_body_is_read(
        aiohttp_client, tmp_path: Path, connector, authorization) -> None:
    fake, url = connector
    settings = Settings(data_dir=tmp_path / "data", app_id="0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e", app_password="x")
    driver = ChatDriver(await aiohttp_client(await create_app(settings)), fake, url)
    body = padded_activity(driver, 6 * 1024 * 1024)
    answered = asyncio.Event()
    sent: list[int] = []

    async def first_chunk_then_wait():
        sent.append(1)
        yield body[:64 * 1024]
        # A server that reads the whole body first would wait here with us until the timeout.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(answered.wait(), timeout=3)
        sent.append(2)
        yield body[64 * 1024:]

    headers = {"Content-Type": "application/json", **({"Authorization": authorization} if authorization else {})}
    try:
        response = await driver.client.post("/api/messages", data=first_chunk_then_wait(), headers=headers)
        answered.set()
        assert response.status == 401
        assert sent == [1], "answered while the client had sent only the first chunk"
    except aiohttp.ClientError:
        assert sent == [1]
    assert fake.received == []


async def test_with_an_app_id_a_forged_token_on_a_large_chunked_body_is_refused(
        aiohttp_client, tmp_path: Path, connector) -> None:
    fake, url = connector
    settings = Settings(data_dir=tmp_path / "data", app_id="0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e", app_password="x")
    driver = ChatDriver(await aiohttp_client(await create_app(settings)), fake, url)
    sent: list[int] = []
    forged = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl"
    response = await driver.client.post("/api/messages", data=chunked(padded_activity(driver, 6 * 1024 * 1024), sent),
                                         headers={"Content-Type": "application/json", "Authorization": forged})
    assert response.status in (401, 413)
    assert fake.received == []
