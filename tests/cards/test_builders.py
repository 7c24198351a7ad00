"""What each card says and offers, for the inputs that change it."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

import cards
from cards import actions as a
from cards._elements import card, submit, text_input
from cards._format import format_time_left, format_utc
from provisioning.devices import Device, DeviceState, HistoryEntry
from provisioning.firmware import Catalog
from provisioning.mac import ACCEPTED_MAC_FORMS, MAC_INPUT_REGEX
from tests.cards.samples import (
    ALL_DEVICES,
    CARD_ID,
    COMMANDS,
    COUNTS,
    FOR_SIGN_IN,
    NOW,
    SIGNED_IN,
    SIGNING_IN,
    WAITING_EXPIRED,
    WAITING_LOCKED,
    WAITING_NO_CODE,
    WAITING_WITH_CODE,
    code,
    device,
    help_groups,
)
from tests.cards.walk import of_type, submit_data, submits, texts, titles

# --- formatting ----------------------------------------------------------------------------

@pytest.mark.parametrize(("left", "shown"), [
    (timedelta(hours=23, minutes=59, seconds=59), "23 h 59 min left"),
    (timedelta(hours=24), "24 h 0 min left"),
    (timedelta(minutes=14, seconds=59), "14 min left"),
    (timedelta(seconds=59), "less than 1 min left"),
    (timedelta(0), "expired"),
    (timedelta(seconds=-1), "expired"),
])
def test_time_left_rounds_down(left: timedelta, shown: str) -> None:
    assert format_time_left(NOW + left, NOW) == shown


def test_times_are_shown_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert format_utc(datetime(2026, 11, 27, 15, 5, tzinfo=paris)) == "2026-11-27 14:05 UTC"
    assert format_utc(datetime(2026, 11, 27, 14, 5)) == "2026-11-27 14:05 UTC"  # naive is UTC


# --- device table, summary, pagination ------------------------------------------------------

def _row_actions(card: dict, mac: str) -> list[tuple[str, str]]:
    return [(s["title"], s["data"]["action"]) for s in submits(card) if s["data"].get("mac") == mac]


def test_each_row_has_one_button_opening_the_device() -> None:
    table = cards.device_table_card("all", ALL_DEVICES, 1, 1, COUNTS, NOW, CARD_ID)
    for d in ALL_DEVICES:
        assert _row_actions(table, d.mac) == [("Open", a.SHOW_STATUS)]
    assert [d["mac"] for d in submit_data(table, a.SHOW_STATUS)] == [d.mac for d in ALL_DEVICES]
    assert submit_data(table, a.SHOW_STATUS)[0] == {"action": a.SHOW_STATUS, "card_id": CARD_ID,
                                                    "mac": ALL_DEVICES[0].mac}


def test_the_signed_in_tab_offers_sign_out_under_each_account() -> None:
    table = cards.device_table_card("signedin", [SIGNED_IN], 1, 1, COUNTS, NOW, CARD_ID)
    assert submit_data(table, a.SIGN_OUT_REQUEST) == [{"action": a.SIGN_OUT_REQUEST, "card_id": CARD_ID,
                                                      "mac": SIGNED_IN.mac}]
    assert a.SIGN_OUT_REQUEST not in json.dumps(cards.device_table_card("all", ALL_DEVICES, 1, 1, COUNTS, NOW,
                                                                        CARD_ID))


def test_the_sign_out_and_switch_confirmations_name_the_device_location_and_accounts() -> None:
    shown = texts(cards.confirm_sign_out_card(SIGNED_IN, CARD_ID))
    assert SIGNED_IN.mac in shown and SIGNED_IN.location in shown and "room-2.14@contoso.com" in shown
    assert "no factory reset" in shown
    switch = cards.confirm_switch_card(SIGNED_IN, "room-2.15@contoso.com", CARD_ID)
    shown = texts(switch)
    assert shown.index("room-2.14@contoso.com") < shown.index("room-2.15@contoso.com")
    assert submit_data(switch, a.SWITCH_ACCOUNT_CONFIRM)[0]["account"] == "room-2.15@contoso.com"


def test_the_device_card_offers_the_actions_that_fit_its_state() -> None:
    def actions(d: Device) -> list[tuple[str, str]]:
        return _row_actions(cards.device_status_card(d, NOW, CARD_ID), d.mac)
    remove = ("Remove", a.REMOVE_REQUEST)
    assert actions(WAITING_WITH_CODE) == [("New code", a.ISSUE_CODE), remove]
    assert actions(WAITING_NO_CODE) == [("Generate code", a.ISSUE_CODE), remove]
    assert actions(WAITING_EXPIRED) == [("Generate code", a.ISSUE_CODE), remove]
    assert actions(WAITING_LOCKED) == [("Generate code", a.ISSUE_CODE), remove]
    assert actions(FOR_SIGN_IN) == [("Sign in", a.SIGN_IN_START), remove]
    assert actions(SIGNING_IN) == [("Sign in", a.SIGN_IN_START), remove]
    assert actions(SIGNED_IN) == [("Sign out", a.SIGN_OUT_REQUEST), remove]
    issue = submit_data(cards.device_status_card(WAITING_WITH_CODE, NOW, CARD_ID), a.ISSUE_CODE)[0]
    assert WAITING_WITH_CODE.code is not None
    assert issue == {"action": a.ISSUE_CODE, "card_id": CARD_ID, "mac": WAITING_WITH_CODE.mac,
                     "expected_state": "waiting_on_activation",
                     "code_issued_at": WAITING_WITH_CODE.code.issued_at.isoformat()}
    no_code = submit_data(cards.device_status_card(WAITING_NO_CODE, NOW, CARD_ID), a.ISSUE_CODE)[0]
    assert no_code["code_issued_at"] == ""


@pytest.mark.parametrize(("tab", "header", "states_shown"), [
    ("waiting", "Code (expires UTC)", False), ("signin", "Model and firmware", False),
    ("signedin", "Model and account", False), ("all", "State", True),
])
def test_a_tab_of_one_state_leaves_the_state_out(tab: str, header: str, states_shown: bool) -> None:
    shown = [d for d in ALL_DEVICES if d.state in cards.TAB_STATES[tab]]
    table = cards.device_table_card(tab, shown, 1, 1, COUNTS, NOW, CARD_ID)
    (grid,) = of_type(table, "Table")
    assert [texts(c) for c in grid["rows"][0]["cells"]] == ["MAC ID and location", header, ""]
    body = "\n".join(texts(row) for row in grid["rows"][1:])
    assert ("Waiting on activation" in body or "Waiting for sign in" in body) == states_shown
    assert ("Signing in" in body) == (tab in ("signin", "all"))  # a sign-in in progress says so


def test_rows_show_code_or_hardware() -> None:
    shown = texts(cards.device_table_card("all", ALL_DEVICES, 1, 1, COUNTS, NOW, CARD_ID))
    assert "1234-5678-9012" in shown and "2026-11-28 14:04 UTC (23 h 59 min left)" in shown
    assert "No code yet" in shown and "Code expired" in shown
    assert "Locked after too many wrong codes" in shown
    assert "Yealink T55A, firmware 58.15.0.124" in shown and "room-2.14@contoso.com" in shown


@pytest.mark.parametrize(("page", "page_count", "buttons"), [
    (1, 1, []), (1, 3, [("Next \u25b6", 2)]), (2, 3, [("\u25c0 Previous", 1), ("Next \u25b6", 3)]),
    (3, 3, [("\u25c0 Previous", 2)]), (1, 0, []),
])
def test_pager(page: int, page_count: int, buttons: list) -> None:
    table = cards.device_table_card("signin", [FOR_SIGN_IN], page, page_count, COUNTS, NOW, CARD_ID)
    pager = [(s["title"], s["data"]["page"]) for s in submits(table)
             if s["data"]["action"] == a.LIST_DEVICES and s["data"]["tab"] == "signin"]
    assert pager == buttons


def test_table_links_the_other_tabs_with_their_counts() -> None:
    table = cards.device_table_card("waiting", ALL_DEVICES[:4], 1, 1, COUNTS, NOW, CARD_ID)
    tiles = of_type(table, "ColumnSet")[0]["columns"]
    assert [texts(t).split("\n") for t in tiles] == [
        ["4", "Waiting on activation"], ["2", "Waiting for sign in"], ["1", "Signed in"], ["7", "All devices"]]
    assert "selectAction" not in tiles[0] and tiles[0]["style"] == "emphasis"  # the tab shown
    assert [(t["selectAction"]["data"]["tab"], t["selectAction"]["data"]["page"]) for t in tiles[1:]] == [
        ("signin", 1), ("signedin", 1), ("all", 1)]
    assert "4 devices \u00b7 page 1 of 1" in texts(table)
    assert [t for t in titles(table) if t != "Open"] == [
        "Waiting for sign in", "Signed in", "All devices", "Add device"]


def test_table_refuses_what_would_break_the_size_budget_or_make_no_sense() -> None:
    too_many = [WAITING_NO_CODE] * (cards.DEVICE_ROWS_PER_PAGE + 1)
    with pytest.raises(ValueError, match="DEVICE_ROWS_PER_PAGE"):
        cards.device_table_card("waiting", too_many, 1, 2, COUNTS, NOW, CARD_ID)
    with pytest.raises(ValueError, match="page 4"):
        cards.device_table_card("waiting", [], 4, 3, COUNTS, NOW, CARD_ID)
    with pytest.raises(ValueError, match="unknown tab"):
        cards.device_table_card("pending", [], 1, 1, COUNTS, NOW, CARD_ID)


def test_empty_tab_says_how_devices_get_there() -> None:
    empty = cards.device_table_card("signin", [], 1, 0, {}, NOW, CARD_ID)
    assert "enters its verification code" in texts(empty)
    assert not of_type(empty, "Table")


def test_tab_counts_put_signing_in_under_the_sign_in_tab() -> None:
    assert cards.tab_counts(COUNTS) == {"waiting": 4, "signin": 2, "signedin": 1, "all": 7}
    assert cards.tab_counts({}) == {"waiting": 0, "signin": 0, "signedin": 0, "all": 0}
    assert cards.TAB_STATES["signin"] == {DeviceState.WAITING_FOR_SIGN_IN, DeviceState.SIGNING_IN}


def test_summary_counts_every_tab_and_pages_the_waiting_tab() -> None:
    summary = cards.summary_card(COUNTS, ALL_DEVICES[:4], NOW, CARD_ID, waiting_page_count=2)
    tabs = [(d["tab"], d["page"]) for d in submit_data(summary, a.LIST_DEVICES)]
    assert tabs == [("waiting", 1), ("signin", 1), ("signedin", 1), ("all", 1), ("waiting", 2)]
    assert [b["text"] for b in of_type(summary, "TextBlock") if b.get("size") == "ExtraLarge"] == ["4", "2", "1", "7"]
    assert "Generate codes" in titles(summary)
    assert "Generate codes" not in titles(cards.summary_card({}, [], NOW, CARD_ID))


# --- add form and result ----------------------------------------------------------------------

def test_add_form_hints_validates_and_keeps_what_was_typed() -> None:
    form = cards.add_device_form(CARD_ID, MAC_INPUT_REGEX, error="Already in Signed in.",
                                 mac="aa-bb", location="Lobby")
    mac, location = of_type(form, "Input.Text")
    assert (mac["id"], mac["regex"], mac["isRequired"], mac["value"]) == ("mac", MAC_INPUT_REGEX, True, "aa-bb")
    assert all(f in mac["errorMessage"] for f in ACCEPTED_MAC_FORMS)
    assert (location["id"], location["maxLength"], location["value"]) == ("location", 128, "Lobby")
    assert "isRequired" not in location
    assert "Already in Signed in." in texts(form)
    # The inputs, not the data, carry mac and location: the client merges them in.
    assert submit_data(form, a.ADD_DEVICE) == [{"action": a.ADD_DEVICE, "card_id": CARD_ID}]
    assert "Already" not in texts(cards.add_device_form(CARD_ID, MAC_INPUT_REGEX))


def test_device_added_says_what_is_next() -> None:
    added = cards.device_added_card(WAITING_NO_CODE, CARD_ID)
    assert f"code {WAITING_NO_CODE.mac}" in texts(added)
    assert [s["data"]["action"] for s in submits(added)] == [a.ISSUE_CODE, a.SHOW_ADD_FORM]
    assert not of_type(added, "Input.Text")  # the replaced form cannot be submitted again


# --- codes ------------------------------------------------------------------------------------

def test_codes_card_lists_code_expiry_and_time_left() -> None:
    codes = cards.codes_card([WAITING_WITH_CODE], NOW, CARD_ID)
    shown = texts(codes)
    assert "1234-5678-9012" in shown and "2026-11-28 14:04 UTC" in shown and "23 h 59 min left" in shown
    assert WAITING_WITH_CODE.location in shown
    assert submit_data(codes, a.EXPORT) == [{"action": a.EXPORT, "card_id": CARD_ID, "tab": "waiting"}]
    assert submit_data(codes, a.ISSUE_ALL_CODES)
    paged = cards.codes_card([WAITING_WITH_CODE], NOW, CARD_ID, page=2, page_count=3)
    assert [d["page"] for d in submit_data(paged, a.SHOW_CODES)] == [1, 3]


def test_code_issued_card_shows_the_code_once_and_how_to_enter_it() -> None:
    issued = cards.code_issued_card(WAITING_WITH_CODE, NOW, CARD_ID)
    shown = texts(issued)
    assert shown.count("1234-5678-9012") == 1 and "Settings > Provision device" in shown
    assert "no longer works" in shown
    with pytest.raises(ValueError, match="no code"):
        cards.code_issued_card(WAITING_NO_CODE, NOW, CARD_ID)


def test_bulk_issue_shows_a_page_and_says_how_many() -> None:
    many = [device(f"AA-BB-CC-DD-00-{i:02X}", code=code()) for i in range(25)]
    issued = cards.codes_issued_card(many, NOW, CARD_ID)
    assert "25 verification codes issued" in texts(issued)
    assert f"Showing {cards.CODE_ROWS_PER_PAGE} of 25" in texts(issued)
    assert len(of_type(issued, "TableRow")) == cards.CODE_ROWS_PER_PAGE + 1
    assert "No codes issued" in texts(cards.codes_issued_card([], NOW, CARD_ID))


# --- status and removal -----------------------------------------------------------------------

def test_status_shows_newest_history_first_and_caps_it() -> None:
    history = [HistoryEntry(NOW - timedelta(minutes=i), f"step {i}", "Ana") for i in range(12, 0, -1)]
    status = cards.device_status_card(SIGNED_IN, NOW, CARD_ID, history)
    shown = texts(status)
    assert shown.index("step 1") < shown.index("step 2")
    assert "step 9" not in shown and "4 older entries not shown." in shown
    assert "room-2.14@contoso.com" in shown and "Yealink T55A" in shown
    assert [s["data"]["action"] for s in submits(status)] == [a.SIGN_OUT_REQUEST, a.REMOVE_REQUEST]


def test_status_of_a_waiting_device_shows_its_code() -> None:
    status = cards.device_status_card(WAITING_WITH_CODE, NOW, CARD_ID)
    assert "1234-5678-9012" in texts(status) and "No history yet." in texts(status)


def test_remove_confirmation_carries_the_state_it_was_asked_in() -> None:
    confirm = cards.confirm_remove_card(FOR_SIGN_IN, CARD_ID)
    assert submit_data(confirm, a.REMOVE_CONFIRM) == [{
        "action": a.REMOVE_CONFIRM, "card_id": CARD_ID, "mac": FOR_SIGN_IN.mac,
        "expected_state": "waiting_for_sign_in"}]
    assert submit_data(confirm, a.REMOVE_CANCEL) == [
        {"action": a.REMOVE_CANCEL, "card_id": CARD_ID, "mac": FOR_SIGN_IN.mac}]


def test_resolved_card_has_nothing_left_to_click() -> None:
    resolved = cards.resolved_card("Already handled", "This confirmation was used.")
    assert not submits(resolved) and "This confirmation was used." in texts(resolved)


# --- sign-in ----------------------------------------------------------------------------------

def test_sign_in_card_asks_for_the_account() -> None:
    sign_in = cards.sign_in_card(SIGNING_IN, "BCDF-GHJK", NOW + timedelta(minutes=15), NOW, CARD_ID,
                                 error="'x' is not an account name.", account="x")
    shown = texts(sign_in)
    assert "BCDF-GHJK" in shown and "(15 min left)" in shown and "'x' is not an account name." in shown
    (account,) = of_type(sign_in, "Input.Text")
    assert (account["id"], account["isRequired"], account["value"]) == ("account", True, "x")
    approve, cancel = submits(sign_in)
    assert approve["data"] == {"action": a.SIGN_IN_APPROVE, "card_id": CARD_ID, "mac": SIGNING_IN.mac}
    assert cancel["data"]["action"] == a.SIGN_IN_CANCEL
    assert cancel["associatedInputs"] == "none"  # an empty account must not block Cancel


def test_expired_sign_in_offers_a_new_one() -> None:
    expired = cards.sign_in_card(SIGNING_IN, "BCDF-GHJK", NOW, NOW, CARD_ID)
    assert "expired" in texts(expired)
    assert not of_type(expired, "Input.Text")
    assert [s["data"]["action"] for s in submits(expired)] == [a.SIGN_IN_START]


# --- help -------------------------------------------------------------------------------------

def test_help_buttons_follow_the_commands_the_asker_may_run() -> None:
    admin = cards.help_card(help_groups(is_admin=True), CARD_ID)
    assert titles(admin) == ["Add device", "List devices", "Codes", "Upload", "Template", "Firmware"]
    assert all(c.usage in texts(admin) for c in COMMANDS)
    reader = cards.help_card(help_groups(is_admin=False), CARD_ID)
    assert titles(reader) == ["Firmware"]
    assert titles(cards.welcome_card(CARD_ID, is_admin=False)) == ["All commands"]
    assert len(titles(cards.welcome_card(CARD_ID, is_admin=True))) == 7


def test_help_is_grouped_by_task_and_names_the_admin_rule_once() -> None:
    admin = texts(cards.help_card(help_groups(is_admin=True), CARD_ID))
    headings = [g.title for g in help_groups(is_admin=True)]
    assert [h for h in headings if h in admin] == headings
    positions = [admin.index(c.usage) for g in help_groups(is_admin=True) for c in g.commands]
    assert positions == sorted(positions), "commands appear group by group, in declared order"
    assert admin.count("for provisioning admins") == 1
    assert "except firmware and help" in admin
    assert "(admins only)" not in admin
    reader = texts(cards.help_card(help_groups(is_admin=False), CARD_ID))
    assert "for provisioning admins" not in reader
    assert "Verification codes" not in reader, "a group with nothing the asker may run is left out"


def test_command_help_shows_usage_and_its_button() -> None:
    add_help = cards.command_help_card(COMMANDS[1], CARD_ID)
    assert "add <MAC> [location ...]" in texts(add_help)
    assert titles(add_help) == ["Add device", "All commands"]


def test_error_card_gives_reason_and_usage() -> None:
    error = cards.error_card("Can't list", "'pending' is not a tab.", "list [waiting|signin|signedin|all]")
    assert "'pending' is not a tab." in texts(error) and "list [waiting|signin|signedin|all]" in texts(error)
    assert "Usage" not in texts(cards.error_card("Oops", "Something."))


# --- files ------------------------------------------------------------------------------------

def test_import_summary_lists_the_first_rows_and_links_the_rest() -> None:
    rows = [cards.RejectedRow(i + 2, f"bad{i}", f"reason {i}") for i in range(30)]
    summary = cards.import_summary_card(5, 10, 20, rows, "https://bot.example.com/f/x", CARD_ID)
    shown = texts(summary)
    assert "reason 9" in shown and "reason 10" not in shown
    assert "20 more rows were not added: download them all" in shown
    assert {"type": "Action.OpenUrl", "title": "Download rejected rows",
            "url": "https://bot.example.com/f/x"} in summary["actions"]
    assert submit_data(summary, a.ISSUE_ALL_CODES)
    nothing_added = cards.import_summary_card(0, 0, 0, [], None, CARD_ID)
    assert not submit_data(nothing_added, a.ISSUE_ALL_CODES) and not of_type(nothing_added, "Table")


def test_upload_help_and_download() -> None:
    upload = cards.upload_help_card(CARD_ID)
    assert cards.TEMPLATE_FILE_NAME in texts(upload) and titles(upload) == ["Template"]
    link = cards.download_card("Export", "export.csv", "https://bot.example.com/d/1", NOW + timedelta(hours=1), NOW)
    assert link["actions"] == [{"type": "Action.OpenUrl", "title": "Download", "url": "https://bot.example.com/d/1"}]
    assert "2026-11-27 15:05 UTC (1 h 0 min left)" in texts(link)


# --- firmware ---------------------------------------------------------------------------------

def test_catalog_lists_every_built_in_model_grouped_by_category() -> None:
    catalog = Catalog.default()
    shown = cards.firmware_catalog_card(catalog.entries)
    text_ = texts(shown)
    assert all(e.model in text_ and e.minimum_version in text_ for e in catalog.entries)
    categories = {e.category for e in catalog.entries}
    assert all(text_.count(c) == 1 for c in categories)  # once, on its group's first row
    assert len(of_type(shown, "TableRow")) == len(catalog.entries) + 1


def test_catalog_beyond_the_card_says_how_many_are_not_shown() -> None:
    entries = list(Catalog.default().entries) * 3
    shown = cards.firmware_catalog_card(entries)
    assert f"{len(entries) - cards.FIRMWARE_ROWS_SHOWN} more models are not shown" in texts(shown)


def test_firmware_verdicts() -> None:
    catalog = Catalog.default()
    too_old = cards.firmware_check_card(catalog.check("T55A", "58.14.9"))
    assert too_old["body"][0]["text"] == "Firmware too old" and "58.15.0.124" in texts(too_old)
    assert cards.firmware_check_card(catalog.check("T55A", "60"))["body"][0]["text"] == "Supported"
    unknown = cards.firmware_check_card(catalog.check("Nokia 3310", "1.0"))
    assert unknown["body"][0]["text"] == "Not a supported device" and "'Nokia 3310'" in texts(unknown)


# --- the building blocks refuse what breaks the rules ------------------------------------------

def test_building_blocks_refuse_rule_breaking_cards() -> None:
    with pytest.raises(ValueError, match="unknown submit action"):
        submit("Go", "delete_everything", CARD_ID)
    with pytest.raises(ValueError, match="snake_case"):
        submit("Go", a.SHOW_STATUS, CARD_ID, macAddress="x")
    with pytest.raises(ValueError, match="error_message"):
        text_input("mac", "MAC", required=True)
    with pytest.raises(ValueError, match="at most 6"):
        card([], [submit(str(i), a.SHOW_HELP, CARD_ID) for i in range(7)])


def test_reasons_are_bounded_in_json_bytes_not_characters() -> None:
    from cards._format import clip_json

    sentence = "x" * 400
    assert clip_json(sentence, 480) == sentence  # the bot's words stay whole
    cut = clip_json("\U0001F600" * 100, 480)  # 12 bytes each in the connector's JSON
    assert cut.endswith("\u2026") and len(cut) == 1 + (480 - 6) // 12
    assert clip_json('"' * 300, 480) == '"' * 237 + "\u2026"  # each quote is 2 bytes escaped
