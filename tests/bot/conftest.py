"""Fixtures that run the real app over HTTP with a fake connector and a temp data dir."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.settings import Settings
from provisioning.clock import FakeClock
from tests.bot.chat import SENT_CARDS, TEAMS_ADMIN_AAD, ChatDriver
from tests.bot.connector import FakeConnector, serving
from tests.cardcheck import validate_cards


def fast_notices(**changes: Any) -> Settings:
    """Settings with notice pacing for tests: Teams' 2 s between messages would make every notice test slow."""
    return Settings(**{"notice_interval_seconds": 0.05, "notice_gather_seconds": 0.01, **changes})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_notices(data_dir=tmp_path / "data", tenant_name="Contoso")


@pytest.fixture
async def connector() -> AsyncIterator[tuple[FakeConnector, str]]:
    async with serving(FakeConnector()) as served:
        yield served


@pytest.fixture
async def chat(connector, aiohttp_client, settings: Settings, clock: FakeClock) -> ChatDriver:
    fake, url = connector
    client = await aiohttp_client(await create_app(settings, clock=clock))
    return ChatDriver(client, fake, url)


@pytest.fixture
async def teams_chat(connector, aiohttp_client, tmp_path: Path, clock: FakeClock) -> ChatDriver:
    """The app as Teams uses it: ADMINS lists the Teams samples' sender, nobody else is an admin."""
    fake, url = connector
    settings = Settings(data_dir=tmp_path / "teams-data", admins=frozenset({TEAMS_ADMIN_AAD}))
    return ChatDriver(await aiohttp_client(await create_app(settings, clock=clock)), fake, url)


@pytest.fixture(scope="session", autouse=True)
def every_sent_card_renders_in_teams():
    """After the bot tests: every distinct card the bot sent passes the 1.5 renderer check."""
    yield
    if SENT_CARDS:
        validate_cards(list(SENT_CARDS.values()))
