"""Issue 4 over HTTP: every inventory command and card form, forged and stale submits,
tenant isolation and refused non-admins."""
from __future__ import annotations

import json

import pytest

from tests.bot.chat import OTHER_TENANT, ChatDriver, cards_in, in_tenant, submit_data, teams_user, texts_in

MAC = "00-1A-2B-3C-4D-5E"


async def test_add_by_text_says_what_is_next(chat: ChatDriver) -> None:
    text = texts_in(await chat.say("add 00:1a:2b:3c:4d:5e Building 2, room 2.14"))
    assert MAC in text and "Building 2, room 2.14" in text
    assert f"code {MAC}" in text


@pytest.mark.parametrize("form", ["001A.2B3C.4D5E", "001a2b3c4d5e", "00-1a-2b-3c-4d-5e"])
async def test_add_accepts_every_mac_form_and_shows_the_canonical_one(chat: ChatDriver, form: str) -> None:
    assert MAC in texts_in(await chat.say(f"ADD {form}"))


async def test_add_with_an_invalid_mac_lists_the_accepted_forms(chat: ChatDriver) -> None:
    text = texts_in(await chat.say("add 00-1A-2B-3C-4D"))
    assert "AA-BB-CC-DD-EE-FF" in text and "AABB.CCDD.EEFF" in text


@pytest.mark.parametrize("mac", ["FF-FF-FF-FF-FF-FF", "00-00-00-00-00-00", "01-00-5E-00-00-01"])
async def test_add_refuses_addresses_that_are_never_a_device(chat: ChatDriver, mac: str) -> None:
    await chat.say(f"add {mac}")
    assert "No devices" in texts_in(await chat.say("list all"))


async def test_a_duplicate_says_which_tab_the_device_is_in(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    text = texts_in(await chat.say(f"add {MAC.lower()} Elsewhere"))
    assert "Waiting on activation" in text


async def test_add_alone_answers_the_form(chat: ChatDriver) -> None:
    card = cards_in(await chat.say("add"))[0]
    assert submit_data(card, "add_device")["card_id"]


async def test_the_add_form_adds_and_is_replaced_so_it_cannot_be_sent_twice(chat: ChatDriver) -> None:
    form = cards_in(await chat.say("add"))[0]
    data = submit_data(form, "add_device") | {"mac": "00:1A:2B:3C:4D:5E", "location": "Lobby"}
    await chat.submit(data)
    updates = [r for r in chat.connector.received if r.method == "update"]
    assert updates, "the form is replaced in place"
    assert MAC in json.dumps(updates[-1].body)
    again = texts_in(await chat.submit(data))
    assert "already used" in again
    assert texts_in(await chat.say("list all")).count(MAC) >= 1


async def test_a_refused_form_comes_back_with_the_error_and_the_typed_values(chat: ChatDriver) -> None:
    form = cards_in(await chat.say("add"))[0]
    data = submit_data(form, "add_device") | {"mac": "nonsense", "location": "Lobby"}
    await chat.submit(data)
    update = [r for r in chat.connector.received if r.method == "update"][-1]
    card = update.body["attachments"][0]["content"]
    assert "nonsense" in json.dumps(card) and "Lobby" in json.dumps(card)
    # corrected and sent again from the same card: accepted
    await chat.submit(data | {"mac": MAC})
    assert MAC in texts_in(await chat.say(f"status {MAC}"))


async def test_list_without_argument_shows_counts_and_the_waiting_tab(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    text = texts_in(await chat.say("list"))
    assert "Waiting on activation" in text and MAC in text


async def test_list_pages_keep_each_message_small(chat: ChatDriver) -> None:
    import cards

    count = cards.DEVICE_ROWS_PER_PAGE + 3
    for i in range(count):
        await chat.say(f"add 02-00-00-00-{i // 256:02X}-{i % 256:02X} " + "L" * 120)
    first = await chat.say("list waiting")
    second = await chat.say("list waiting page 2")
    assert len(json.dumps(first)) < 25_000 and len(json.dumps(second)) < 25_000
    assert "02-00-00-00-00-00" in texts_in(first)
    assert f"02-00-00-00-00-{count - 1:02X}" in texts_in(second)
    assert "no page 9" in texts_in(await chat.say("list waiting page 9"))


async def test_list_with_an_unknown_tab_says_which_exist(chat: ChatDriver) -> None:
    text = texts_in(await chat.say("list everything"))
    assert "waiting" in text and "signedin" in text


async def test_code_then_codes_shows_the_code_and_time_left(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    issued = texts_in(await chat.say(f"code {MAC}"))
    assert "24 h" in issued or "23 h" in issued
    listed = texts_in(await chat.say("codes"))
    assert MAC in listed and "Lobby" in listed


async def test_reissuing_a_code_voids_the_old_one(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC}")
    await chat.say(f"code {MAC}")
    runtime = chat.services
    first = runtime.service.get_device("local", MAC).code.value
    await chat.say(f"code {MAC}")
    second = runtime.service.get_device("local", MAC).code.value
    assert first != second


async def test_code_all_issues_only_where_needed(chat: ChatDriver) -> None:
    for i in range(3):
        await chat.say(f"add 02-00-00-00-00-0{i}")
    await chat.say("code 02-00-00-00-00-00")
    runtime = chat.services
    before = runtime.service.get_device("local", "02-00-00-00-00-00").code.value
    await chat.say("code all")
    assert len(runtime.service.valid_codes("local")) == 3
    assert runtime.service.get_device("local", "02-00-00-00-00-00").code.value == before
    assert "already has a valid code" in texts_in(await chat.say("code all"))


async def test_code_for_an_unknown_device_says_to_add_it(chat: ChatDriver) -> None:
    assert "Add it first" in texts_in(await chat.say(f"code {MAC}"))


async def test_status_shows_state_and_history(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    await chat.say(f"code {MAC}")
    text = texts_in(await chat.say(f"status {MAC}"))
    assert "Waiting on activation" in text and "Lobby" in text and "History" in text


async def test_remove_asks_then_removes_once(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    confirm = cards_in(await chat.say(f"remove {MAC}"))[0]
    data = submit_data(confirm, "remove_confirm")
    await chat.submit(data)
    assert "not one of this tenant" in texts_in(await chat.say(f"status {MAC}"))
    assert "already used" in texts_in(await chat.submit(data))


async def test_cancel_keeps_the_device_and_closes_the_card(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    confirm = cards_in(await chat.say(f"remove {MAC}"))[0]
    await chat.submit(submit_data(confirm, "remove_cancel"))
    assert "already used" in texts_in(await chat.submit(submit_data(confirm, "remove_confirm")))
    assert "Lobby" in texts_in(await chat.say(f"status {MAC}"))


async def test_a_stale_confirmation_changes_nothing(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    confirm = cards_in(await chat.say(f"remove {MAC}"))[0]
    data = submit_data(confirm, "remove_confirm") | {"expected_state": "waiting_for_sign_in"}
    text = texts_in(await chat.submit(data))
    assert "nothing was removed" in text.lower()
    assert "Lobby" in texts_in(await chat.say(f"status {MAC}"))


@pytest.mark.parametrize("value", [
    {"action": "drop_tables"},
    {"action": "add_device"},
    {"action": "remove_confirm", "card_id": "forged", "mac": MAC, "expected_state": "waiting_on_activation"},
    {"action": "issue_code", "mac": 42},
    {"action": "issue_code", "mac": MAC, "expected_state": "bogus"},
    {"action": "list_devices", "tab": "waiting", "page": -1},
    {"action": "list_devices", "tab": "../../etc", "page": 1},
    {"action": ["list"]},
])
async def test_forged_submissions_get_a_clear_answer_and_change_nothing(chat: ChatDriver, value: dict) -> None:
    await chat.say(f"add {MAC} Lobby")
    replies = await chat.submit(value)
    assert replies and replies[0].get("text"), "a plain answer, not silence"
    assert "Sorry, something went wrong" not in texts_in(replies)
    assert "Lobby" in texts_in(await chat.say(f"status {MAC}"))
    runtime = chat.services
    assert runtime.service.get_device("local", MAC).code is None


async def test_a_row_action_on_a_device_that_changed_state_is_refused(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    text = texts_in(await chat.submit({"action": "issue_code", "card_id": "x", "mac": MAC,
                                       "expected_state": "waiting_for_sign_in"}))
    assert "nothing was changed" in text
    assert chat.services.service.get_device("local", MAC).code is None


async def test_firmware_lists_the_catalog_and_checks_a_version(chat: ChatDriver) -> None:
    assert "Yealink" in texts_in(await chat.say("firmware"))
    old = texts_in(await chat.say("firmware Yealink T55A 58.15.0.100"))
    assert "58.15.0.124" in old
    assert "supported" in texts_in(await chat.say("firmware T55A 58.15.0.124")).lower()


async def test_usage_errors_show_the_usage_line(chat: ChatDriver) -> None:
    text = texts_in(await chat.say("status"))
    assert "Usage: `status <MAC>`" in text


async def test_tenants_never_see_each_others_devices(teams_chat: ChatDriver) -> None:
    await teams_chat.say(f"add {MAC} Contoso lobby", sample="teams_personal_message")
    other = in_tenant(teams_chat.activity("teams_personal_message", text="list all"), OTHER_TENANT)
    assert MAC not in texts_in(await teams_chat.send(other))
    status = in_tenant(teams_chat.activity("teams_personal_message", text=f"status {MAC}"), OTHER_TENANT)
    assert "not one of this tenant" in texts_in(await teams_chat.send(status))
    # the other tenant may add the same MAC without touching the first tenant's device
    add = in_tenant(teams_chat.activity("teams_personal_message", text=f"add {MAC} Fabrikam lobby"), OTHER_TENANT)
    await teams_chat.send(add)
    assert "Contoso lobby" in texts_in(await teams_chat.say(f"status {MAC}", sample="teams_personal_message"))


async def test_a_card_from_one_tenant_cannot_be_used_in_another(teams_chat: ChatDriver) -> None:
    await teams_chat.say(f"add {MAC} Lobby", sample="teams_personal_message")
    confirm = cards_in(await teams_chat.say(f"remove {MAC}", sample="teams_personal_message"))[0]
    forged = in_tenant(teams_chat.activity("teams_personal_message"), OTHER_TENANT)
    forged.pop("text")
    forged["value"] = submit_data(confirm, "remove_confirm")
    assert "not one I can act on" in texts_in(await teams_chat.send(forged))
    assert "Lobby" in texts_in(await teams_chat.say(f"status {MAC}", sample="teams_personal_message"))


async def test_non_admins_cannot_submit_cards(teams_chat: ChatDriver) -> None:
    body = teams_user(teams_chat.activity("teams_personal_message"), aad="99999999-0000-0000-0000-000000000000")
    body.pop("text")
    body["value"] = {"action": "add_device", "card_id": "x", "mac": MAC, "location": "x"}
    assert "not authorized" in texts_in(await teams_chat.send(body))
    assert "No devices" in texts_in(await teams_chat.say("list all", sample="teams_personal_message"))


async def test_teams_submit_replaces_the_card_by_reply_to_id(teams_chat: ChatDriver) -> None:
    form = cards_in(await teams_chat.say("add", sample="teams_personal_message"))[0]
    card_activity = teams_chat.connector.received[-1]
    body = teams_chat.activity("teams_personal_message")
    body.pop("text")
    body["replyToId"] = "act-1"
    body["value"] = submit_data(form, "add_device") | {"mac": MAC, "location": "Lobby"}
    await teams_chat.send(body)
    updates = [r for r in teams_chat.connector.received if r.method == "update"]
    assert updates and updates[-1].activity_id == "act-1"
    assert card_activity.method == "reply"


async def test_tenant_name_is_shown_and_set_for_devices(chat: ChatDriver) -> None:
    assert "Contoso" in texts_in(await chat.say("tenant"))
    await chat.say("tenant Fabrikam Facilities")
    assert "Fabrikam Facilities" in texts_in(await chat.say("tenant"))
    await chat.say(f'add "{MAC}" Lobby')
    await chat.say(f"code {MAC}")
    code = chat.services.service.get_device("local", MAC).code.value
    response = await chat.client.post("/api/devices/provision", json={
        "mac": MAC, "verification_code": code, "model": "T55A", "firmware_version": "58.15.0.124"})
    assert (await response.json())["tenant_name"] == "Fabrikam Facilities"


async def test_with_expect_replies_the_form_result_comes_back_in_the_body(chat: ChatDriver) -> None:
    form = cards_in(await chat.expect_replies(chat.activity(text="add")))[0]
    body = chat.activity()
    body.pop("text")
    body["value"] = submit_data(form, "add_device") | {"mac": MAC, "location": "Lobby"}
    replies = await chat.expect_replies(body)
    assert MAC in texts_in(replies) and "Device added" in texts_in(replies)
    assert chat.connector.received == [], "nothing goes over HTTP in expectReplies mode"


async def test_codes_are_never_shown_where_others_read(teams_chat: ChatDriver) -> None:
    await teams_chat.say(f"add {MAC} Lobby", sample="teams_personal_message")
    await teams_chat.say(f"code {MAC}", sample="teams_personal_message")
    code = teams_chat.services.service.get_device(
        "72f988bf-86f1-41af-91ab-2d7cd011db47", MAC).code.value
    formatted = f"{code[:4]}-{code[4:8]}-{code[8:]}"
    assert formatted in texts_in(await teams_chat.say("codes", sample="teams_personal_message"))
    for command in (f"code {MAC}", "code all", "codes", "export"):
        text = texts_in(await teams_chat.say(f"<at>Provisioning Bot</at> {command}", sample="teams_channel_message"))
        assert "personal chat" in text and formatted not in text, command
    for command in ("list", "list waiting", f"status {MAC}"):
        text = texts_in(await teams_chat.say(f"<at>Provisioning Bot</at> {command}", sample="teams_channel_message"))
        assert MAC in text and formatted not in text and "shown only in a personal chat" in text, command
    assert teams_chat.services.service.get_device(
        "72f988bf-86f1-41af-91ab-2d7cd011db47", MAC).code.value == code, "refused before acting"


async def test_an_unusable_tenant_id_is_refused_plainly(teams_chat: ChatDriver) -> None:
    body = in_tenant(teams_chat.activity("teams_personal_message", text=f"add {MAC} Lobby"), "x" * 300)
    text = texts_in(await teams_chat.send(body))
    assert "tenant id" in text and "Sorry, something went wrong" not in text


async def test_a_second_click_on_generate_code_keeps_the_first_code(chat: ChatDriver) -> None:
    added = cards_in(await chat.say(f"add {MAC} Lobby"))[0]
    data = submit_data(added, "issue_code")
    await chat.submit(data)
    first = chat.services.service.get_device("local", MAC).code.value
    text = texts_in(await chat.submit(data))
    assert "code changed since this card was sent" in text
    assert chat.services.service.get_device("local", MAC).code.value == first


async def test_generate_code_without_what_the_card_showed_is_refused(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    text = texts_in(await chat.submit({"action": "issue_code", "card_id": "x", "mac": MAC}))
    assert "missing" in text
    assert chat.services.service.get_device("local", MAC).code is None


async def test_a_confirmation_only_works_in_its_own_conversation(chat: ChatDriver) -> None:
    await chat.say(f"add {MAC} Lobby")
    confirm = cards_in(await chat.say(f"remove {MAC}"))[0]
    elsewhere = chat.activity()
    elsewhere.pop("text")
    elsewhere["conversation"] = {"id": "another-conversation|livechat"}
    elsewhere["value"] = submit_data(confirm, "remove_confirm")
    assert "not one I can act on" in texts_in(await chat.send(elsewhere))
    assert "Lobby" in texts_in(await chat.say(f"status {MAC}"))
    await chat.submit(submit_data(confirm, "remove_confirm"))
    assert "not one of this tenant" in texts_in(await chat.say(f"status {MAC}"))
