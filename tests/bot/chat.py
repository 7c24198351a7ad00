"""Activities shaped like the Emulator's and Teams', and a driver that posts them.

Payloads start from the JSON samples in tests/fixtures/activities (copied from what the
Emulator and Teams send) and are adjusted per test: text, card values, user, tenant.
"""
from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from bot.app import SERVICES, Services
from storage import Store
from tests.bot.connector import FakeConnector
from tests.cards.walk import submits, texts, titles

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "activities"
_SAMPLES = {path.stem: json.loads(path.read_text()) for path in FIXTURES.glob("*.json")}
_ids = itertools.count(1)
SENT_CARDS: dict[str, dict[str, Any]] = {}  # every card the bot sent in this test session, to validate once


def _collect(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for card in cards_in(replies):
        SENT_CARDS.setdefault(json.dumps(card, sort_keys=True), card)
    return replies

TEAMS_ADMIN_AAD = "5f7b1c2d-8e9a-4b3c-9d1e-2f3a4b5c6d7e"  # the Teams samples' sender
TEAMS_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "0d3f6a1e-5b2c-4d8e-9f7a-6b5c4d3e2f1a"


def activity(sample: str, service_url: str, **changes: Any) -> dict[str, Any]:
    """A copy of a sample with a fresh id, the fake connector's URL and `changes` applied."""
    body = copy.deepcopy(_SAMPLES[sample])
    body["id"] = f"{body['id']}-{next(_ids)}"
    body["serviceUrl"] = service_url
    for key, value in changes.items():
        body[key] = value
    return body


def teams_user(body: dict[str, Any], *, aad: str, name: str = "Someone Else") -> dict[str, Any]:
    body["from"] = {"id": f"29:{aad}", "name": name, "aadObjectId": aad}
    return body


def in_tenant(body: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    body["channelData"]["tenant"] = {"id": tenant_id}
    body["conversation"]["tenantId"] = tenant_id
    return body


class ChatDriver:
    """Posts activities to /api/messages the way a channel does."""

    def __init__(self, client: TestClient, connector: FakeConnector, service_url: str) -> None:
        self.client = client
        self.connector = connector
        self.service_url = service_url

    @property
    def data_directory(self) -> Path:
        """The TinyDB data directory of the app under test (the embedded store)."""
        store = self.services.store
        assert isinstance(store, Store), "this test needs the embedded store"
        return store.directory

    @property
    def services(self) -> Services:
        """What the app under test built (its store and services), to look at state directly."""
        return self.client.app[SERVICES]

    def activity(self, sample: str = "emulator_message", **changes: Any) -> dict[str, Any]:
        return activity(sample, self.service_url, **changes)

    async def post(self, body: Any, *, headers: dict[str, str] | None = None) -> Any:
        return await self.client.post("/api/messages", json=body, headers=headers or {})

    async def expect_replies(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Send with deliveryMode expectReplies; the replies come back in the response."""
        body = dict(body, deliveryMode="expectReplies")
        response = await self.post(body)
        assert response.status == 200, await response.text()
        return _collect((await response.json())["activities"])

    async def say(self, text: str, sample: str = "emulator_message", **changes: Any) -> list[dict[str, Any]]:
        """Send text with normal delivery; return the replies the connector received for it."""
        body = self.activity(sample, text=text, **changes)
        return await self.send(body)

    async def send(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(self.connector.received)
        response = await self.post(body)
        assert response.status in (200, 201), await response.text()
        return _collect([r.body for r in self.connector.received[before:]])

    async def submit(self, data: dict[str, Any], sample: str = "emulator_message",
                     **changes: Any) -> list[dict[str, Any]]:
        """A card's Action.Submit as the client sends it: a message with `value` and no text."""
        body = self.activity(sample, **changes)
        body.pop("text", None)
        body["value"] = data
        return await self.send(body)


def cards_in(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a["content"] for r in replies for a in r.get("attachments") or []
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]


def texts_in(replies: list[dict[str, Any]]) -> str:
    """What a person reads in the replies: their texts, and each card's visible text and
    button titles (through the card walker, never the card's JSON), one piece a line."""
    parts = [r.get("text") or "" for r in replies]
    for card in cards_in(replies):
        parts += [texts(card), *titles(card)]
    return "\n".join(parts)


_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")
_TAG = re.compile(r"(?<!\\)<[A-Za-z/]")


def renders_markup_from(text: str) -> bool:
    """Whether markdown `text` would render a link or an HTML tag outside code spans
    (an escaped `\\[` or `\\<` is shown as typed)."""
    outside_code = _CODE_SPAN.sub("", text)
    return bool(_LINK.search(outside_code) or _TAG.search(outside_code))


def submit_data(card: dict[str, Any], action: str) -> dict[str, Any]:
    """A copy of the data of the card's first Action.Submit named `action` (there must be one)."""
    found = [s["data"] for s in submits(card) if s["data"].get("action") == action]
    assert found, f"no {action} button in the card; its buttons: {titles(card)}"
    return dict(found[0])
