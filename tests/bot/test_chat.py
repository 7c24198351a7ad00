"""The chat basics over HTTP: welcome, help, unknown commands, mentions, admins, errors."""
from __future__ import annotations

import json
import logging

import pytest

import cards
from bot.chat.interactions import Menu
from bot.features import FEATURES
from tests.bot.chat import ChatDriver, cards_in, renders_markup_from, teams_user, texts_in

MENU = Menu(FEATURES)
OTHER_USER = "11111111-2222-3333-4444-555555555555"  # not in ADMINS


async def test_welcome_card_when_the_bot_is_added(chat: ChatDriver) -> None:
    replies = await chat.send(chat.activity("emulator_conversation_update"))
    assert len(replies) == 1
    card = cards_in(replies)[0]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.5"


async def test_welcome_when_teams_installs_the_bot(chat: ChatDriver) -> None:
    body = chat.activity("teams_personal_message", type="conversationUpdate")
    body.pop("text")
    body["membersAdded"] = [body["recipient"]]
    assert cards_in(await chat.send(body))


async def test_no_welcome_for_each_new_team_member(chat: ChatDriver) -> None:
    body = chat.activity("teams_channel_message", type="conversationUpdate")
    body.pop("text")
    body["membersAdded"] = [{"id": "29:new-member", "aadObjectId": "0000"}]
    assert await chat.send(body) == []


@pytest.mark.parametrize("name", ["fileConsent/invoke", "task/fetch", "composeExtension/query"])
async def test_a_malformed_invoke_is_400_without_a_failed_turn(chat: ChatDriver, name: str, caplog) -> None:
    body = chat.activity("teams_personal_message", type="invoke", name=name, value="x")
    body.pop("text")
    with caplog.at_level(logging.ERROR):
        response = await chat.post(body)
    assert response.status in (400, 501)
    assert "turn failed" not in caplog.text
    assert chat.connector.received == []


async def test_a_teams_message_without_a_tenant_is_not_put_in_the_local_tenant(chat: ChatDriver) -> None:
    await chat.say("add 02-00-00-00-00-01 Local lobby")
    body = chat.activity("teams_personal_message", text="list all")
    body["channelData"] = {}
    body["conversation"].pop("tenantId")
    text = texts_in(await chat.send(body))
    assert "Local lobby" not in text and "tenant id" in text


async def test_a_group_conversation_without_a_type_does_not_show_codes(chat: ChatDriver) -> None:
    await chat.say("add 02-00-00-00-00-01")
    body = chat.activity(text="codes")
    body["conversation"]["isGroup"] = True
    assert "personal chat" in texts_in(await chat.send(body))


async def test_help_lists_every_command_in_the_registry(chat: ChatDriver) -> None:

    text = texts_in(await chat.say("help"))
    for command in MENU:
        assert command.name in text


async def test_help_for_one_command_shows_its_usage(chat: ChatDriver) -> None:
    text = texts_in(await chat.say("help help"))
    assert "help [command]" in text


async def test_help_for_an_unknown_command_says_so(chat: ChatDriver) -> None:
    text = texts_in(await chat.say("help frobnicate"))
    assert "no command `frobnicate`" in text


async def test_unknown_command_suggests_the_closest(chat: ChatDriver) -> None:
    replies = await chat.say("hlep")
    assert "Did you mean `help`" in replies[0]["text"]


async def test_command_words_are_case_insensitive(chat: ChatDriver) -> None:
    assert cards_in(await chat.say("HELP"))


async def test_channel_mention_is_stripped_before_parsing(chat: ChatDriver) -> None:
    replies = await chat.say("<at>Provisioning Bot</at> help", sample="teams_channel_message")
    assert cards_in(replies), texts_in(replies)


async def test_empty_message_after_the_mention_gets_help(chat: ChatDriver) -> None:
    replies = await chat.say("<at>Provisioning Bot</at>&nbsp;", sample="teams_channel_message")
    assert cards_in(replies)


async def test_only_admins_listed_in_admins_may_run_admin_commands(teams_chat: ChatDriver, caplog) -> None:

    admin_only = next(c for c in MENU if c.rules.admin_only)
    body = teams_user(teams_chat.activity("teams_personal_message", text=admin_only.name), aad=OTHER_USER)
    with caplog.at_level(logging.WARNING):
        replies = await teams_chat.send(body)
    assert "not authorized" in replies[0]["text"]
    assert "11111111-2222-3333-4444-555555555555" in caplog.text


async def test_non_admin_help_shows_only_what_they_may_run(teams_chat: ChatDriver) -> None:

    body = teams_user(teams_chat.activity("teams_personal_message", text="help"), aad=OTHER_USER)
    text = texts_in(await teams_chat.send(body))
    hidden = [c.name for c in MENU if c.rules.admin_only]
    assert hidden, "the registry has admin-only commands"
    for name in hidden:
        assert f'"{name}' not in text


async def test_listed_admin_matches_by_aad_object_id(teams_chat: ChatDriver) -> None:

    admin_only = next(c for c in MENU if c.rules.admin_only)
    replies = await teams_chat.say(f"help {admin_only.name}", sample="teams_personal_message")
    assert admin_only.usage in texts_in(replies)


async def test_an_exception_in_a_turn_answers_an_apology_with_an_error_id(
        chat: ChatDriver, caplog, monkeypatch) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(cards, "help_card", explode)
    with caplog.at_level(logging.ERROR):
        replies = await chat.say("help")
    text = replies[0]["text"]
    assert text.startswith("Sorry, something went wrong")
    error_id = text.split("error id ")[1].split(")")[0]
    assert error_id in caplog.text and "RuntimeError: boom" in caplog.text


async def test_a_flood_of_unclosed_mentions_does_not_hang_the_bot(chat: ChatDriver) -> None:
    """800 KB of `<at>`: a quadratic mention pattern would take about an hour here."""
    import asyncio

    replies = await asyncio.wait_for(chat.say("<at>" * 200_000), timeout=30)
    assert cards_in(replies), "markup alone leaves no command: the help card"


async def test_help_reads_like_a_menu_grouped_by_task(chat: ChatDriver) -> None:
    lines = texts_in(await chat.say("help")).split("\n")
    headings = [lines.index(feature.title) for feature in FEATURES]
    assert headings == sorted(headings), "groups in the declared order"
    assert sum("for provisioning admins" in line for line in lines) == 1, "the admins rule said once"


@pytest.mark.parametrize("text", ["list all page ²", "codes page ²", "list all page ٣", "list page " + "9" * 5000,
                                  "codes page " + "1" * 5000, "list all page 0", "codes page -1"])
async def test_a_hostile_page_number_gets_the_usage_not_an_apology(chat: ChatDriver, text: str) -> None:
    answer = texts_in(await chat.say(text))
    assert "Write the page as `page N`" in answer and "Sorry" not in answer


@pytest.mark.parametrize("page", ["²", "9" * 5000, -3, 0, True, 1.5, [1], {"n": 1}])
async def test_a_hostile_page_in_a_card_submit_is_refused_plainly(chat: ChatDriver, page: object) -> None:
    for action in ({"action": "list_devices", "tab": "all"}, {"action": "show_codes"}):
        answer = texts_in(await chat.submit({**action, "card_id": "c", "page": page}))
        assert "invalid `page`" in answer and "Sorry" not in answer


async def test_a_deeply_nested_action_is_refused_plainly(chat: ChatDriver) -> None:
    body = chat.activity()
    body.pop("text")
    body["value"] = {"action": "NESTED", "card_id": "c"}
    # Written by hand: Python's own json module can't encode a list nested this deep.
    raw = json.dumps(body).replace('"NESTED"', "[" * 1000 + '"show_help"' + "]" * 1000)
    before = len(chat.connector.received)
    response = await chat.client.post("/api/messages", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 200
    answer = texts_in(chat.connector.activities()[before:])
    assert "don't recognize that card's button" in answer and "Sorry" not in answer


HOSTILE = "x`[Reset](https://evil.example)`y"


@pytest.mark.parametrize("text", [HOSTILE, f"help {HOSTILE}", "help [Reset](https://evil.example)",
                                  "status [Reset](https://evil.example)", f"status {HOSTILE}",
                                  "list [Reset](https://evil.example)", f"export {HOSTILE}",
                                  f"remove 00-1A-2B-3C-4D-5E {HOSTILE}", "add <b>x</b>"])
async def test_what_a_user_typed_is_echoed_literally(teams_chat: ChatDriver, text: str) -> None:
    for sample in ("teams_channel_message", "teams_personal_message"):
        for who in ({}, {"aad": "11111111-2222-3333-4444-555555555555"}):
            body = teams_chat.activity(sample, text=f"<at>Provisioning Bot</at> {text}")
            if who:
                teams_user(body, aad=who["aad"])
            replies = await teams_chat.send(body)
            said = "\n".join(r.get("text") or "" for r in replies)
            assert said and not renders_markup_from(said), said


def test_the_markup_check_sees_a_planted_link() -> None:
    assert renders_markup_from("I don't know the command `x`[Reset](https://evil.example)`y`.")
    assert not renders_markup_from("I don't know the command x\\`\\[Reset\\]\\(https://evil.example\\)\\`y.")
    assert not renders_markup_from("There is no command `[Reset](https://evil.example)`.")
