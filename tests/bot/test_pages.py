"""The about, privacy and terms pages over HTTP: served as HTML, saying what is stored."""
from __future__ import annotations

import pytest

from tests.bot.chat import ChatDriver


async def page(chat: ChatDriver, path: str) -> str:
    response = await chat.client.get(path)
    assert response.status == 200, path
    assert response.content_type == "text/html" and response.charset == "utf-8"
    return " ".join((await response.text()).split())


@pytest.mark.parametrize(("path", "heading"), [("/about", "Device Provisioning bot"), ("/privacy", "Privacy"),
                                               ("/terms", "Terms of use")])
async def test_each_page_is_html_with_links_to_the_others(chat: ChatDriver, path: str, heading: str) -> None:
    text = await page(chat, path)
    assert text.startswith("<!doctype html>") and f"<h1>{heading}</h1>" in text
    assert all(f'href="{other}"' in text for other in ("/about", "/privacy", "/terms"))


async def test_the_privacy_page_says_what_is_stored_and_where(chat: ChatDriver) -> None:
    text = await page(chat, "/privacy")
    for fact in ("MAC ID", "the location an admin gave it", "audit log", "never holds a verification code",
                 "data directory", "Device tokens are stored only as a hash", "never a verification code or token"):
        assert fact in text, fact


async def test_the_pages_answer_only_get(chat: ChatDriver) -> None:
    assert (await chat.client.post("/privacy")).status == 405
    assert (await chat.client.get("/privacy/x")).status == 404
