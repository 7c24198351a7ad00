"""Deterministic inputs for the card tests, and one built example of every card."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import cards
from provisioning.devices import Device, DeviceState, HistoryEntry, SignInGrant, VerificationCode
from provisioning.firmware import Catalog
from provisioning.mac import MAC_INPUT_REGEX
from provisioning.outbox import DeviceEvent, EventKind

NOW = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
CARD_ID = "card-0001"
TENANT = "tenant-a"


def code(value: str = "123456789012", issued: datetime = NOW - timedelta(seconds=30)) -> VerificationCode:
    return VerificationCode(value, issued, issued + timedelta(hours=24), "admin-1")


def device(mac: str = "AA-BB-CC-DD-EE-01", state: DeviceState = DeviceState.WAITING_ON_ACTIVATION,
           location: str = "Building 2, room 2.14", **changes: Any) -> Device:
    base: dict[str, Any] = dict(tenant_id=TENANT, mac=mac, location=location, state=state,
                                created_at=NOW - timedelta(days=2), updated_at=NOW - timedelta(hours=1))
    if state is not DeviceState.WAITING_ON_ACTIVATION:
        base.update(model="T55A", manufacturer="Yealink", firmware="58.15.0.124")
    if state is DeviceState.SIGNING_IN:
        base["sign_in"] = grant()
    if state is DeviceState.SIGNED_IN:
        base.update(account="room-2.14@contoso.com", signed_in_at=NOW - timedelta(minutes=20))
    base.update(changes)
    return Device(**base)


def grant() -> SignInGrant:
    return SignInGrant(device_code="dc", user_code="BCDFGHJK", started_at=NOW - timedelta(minutes=1),
                       expires_at=NOW + timedelta(minutes=14), interval=5, started_by="admin-1")


WAITING_WITH_CODE = device("AA-BB-CC-DD-EE-01", code=code())
WAITING_NO_CODE = device("AA-BB-CC-DD-EE-02", location="")
WAITING_EXPIRED = device("AA-BB-CC-DD-EE-03", code=code(issued=NOW - timedelta(hours=25)))
WAITING_LOCKED = device("AA-BB-CC-DD-EE-04", code=code(), locked=True, failed_attempts=5)
FOR_SIGN_IN = device("AA-BB-CC-DD-EE-05", DeviceState.WAITING_FOR_SIGN_IN)
SIGNING_IN = device("AA-BB-CC-DD-EE-06", DeviceState.SIGNING_IN)
SIGNED_IN = device("AA-BB-CC-DD-EE-07", DeviceState.SIGNED_IN)
APPROVED = device("AA-BB-CC-DD-EE-08", DeviceState.SIGNING_IN,
                  sign_in=replace(grant(), account="room-2.14@contoso.com", approved_by="admin-1", approved_at=NOW))
ALL_DEVICES = [WAITING_WITH_CODE, WAITING_NO_CODE, WAITING_EXPIRED, WAITING_LOCKED,
               FOR_SIGN_IN, SIGNING_IN, SIGNED_IN]
COUNTS = {DeviceState.WAITING_ON_ACTIVATION: 4, DeviceState.WAITING_FOR_SIGN_IN: 1,
          DeviceState.SIGNING_IN: 1, DeviceState.SIGNED_IN: 1}

HISTORY = (
    HistoryEntry(NOW - timedelta(days=2), "added", "Ana Admin", "Building 2, room 2.14"),
    HistoryEntry(NOW - timedelta(hours=2), "code issued", "Ana Admin"),
    HistoryEntry(NOW - timedelta(hours=1), "provisioned", "device", "Yealink T55A, firmware 58.15.0.124"),
)

COMMANDS = [
    cards.CommandHelp("help", "Show the commands, or one command's usage.", "help [command]", False),
    cards.CommandHelp("add", "Add a device to Waiting on activation.", "add <MAC> [location ...]", True),
    cards.CommandHelp("list", "List the devices of one tab.", "list [waiting|signin|signedin|all] [page N]", True),
    cards.CommandHelp("codes", "List the valid verification codes.", "codes", True),
    cards.CommandHelp("upload", "Explain how to upload MAC IDs from a file.", "upload", True),
    cards.CommandHelp("template", "Send the upload template.", "template", True),
    cards.CommandHelp("firmware", "Show supported devices, or check one.", "firmware [<model> <version>]", False),
]
HELP_GROUPS = [
    cards.HelpGroup("Devices", (COMMANDS[1], COMMANDS[2], COMMANDS[6])),
    cards.HelpGroup("Verification codes", (COMMANDS[3],)),
    cards.HelpGroup("Files", (COMMANDS[4], COMMANDS[5])),
    cards.HelpGroup("Help", (COMMANDS[0],)),
]


def help_groups(is_admin: bool) -> list[cards.HelpGroup]:
    """The sample groups as an admin, or someone who isn't one, sees them."""
    shown = [cards.HelpGroup(g.title, tuple(c for c in g.commands if is_admin or not c.admin_only))
             for g in HELP_GROUPS]
    return [g for g in shown if g.commands]

REJECTED = [
    cards.RejectedRow(3, "AA-BB-CC-DD-EE", "invalid MAC ID: it has 10 hex digits; a MAC address has 12"),
    cards.RejectedRow(5, "AA-BB-CC-DD-EE-05", "already in Waiting for sign in"),
    cards.RejectedRow(9, "=cmd|' /C calc'!A0", "invalid MAC ID: it contains '=', which cannot appear"),
]


def digest_events(count: int, location: str = "Building 2, room 2.14") -> list[DeviceEvent]:
    """`count` events, mostly provisioned, every seventh locked out, every eleventh signed in."""
    events = []
    for n in range(count):
        kind = EventKind.LOCKED if n % 7 == 3 else EventKind.SIGNED_IN if n % 11 == 5 else EventKind.PROVISIONED
        events.append(DeviceEvent(kind, TENANT, f"AA-BB-CC-DD-{n // 256:02X}-{n % 256:02X}", NOW, location,
                                  "T55A", "Yealink", "58.15.0.124", "room-2.14@contoso.com"))
    return events


def every_card() -> dict[str, dict[str, Any]]:
    """One built example of every card and notable variant, keyed by golden file name."""
    catalog = Catalog.default()
    return {
        "digest_two": cards.device_digest_card(digest_events(2), CARD_ID),
        "digest_mixed": cards.device_digest_card(digest_events(37), CARD_ID),
        "digest_largest": cards.device_digest_card(
            digest_events(cards.DIGEST_MAX_DEVICES, "Building 12, floor 3, room 3.141 (north wing, behind reception) "
                          "next to the large meeting room with the view of the harbour, desk 42"), CARD_ID),
        "welcome_admin": cards.welcome_card(CARD_ID, is_admin=True),
        "welcome_non_admin": cards.welcome_card(CARD_ID, is_admin=False),
        "help": cards.help_card(help_groups(is_admin=True), CARD_ID),
        "help_non_admin": cards.help_card(help_groups(is_admin=False), CARD_ID),
        "command_help": cards.command_help_card(COMMANDS[1], CARD_ID),
        "error": cards.error_card(
            "Can't add that device",
            "'AA-BB' is not a valid MAC ID: it has 4 hex digits; a MAC address has 12.",
            "add <MAC> [location ...]",
        ),
        "resolved": cards.resolved_card("Removed", "AA-BB-CC-DD-EE-01 (Building 2, room 2.14) was removed."),
        "add_form": cards.add_device_form(CARD_ID, MAC_INPUT_REGEX),
        "add_form_error": cards.add_device_form(
            CARD_ID,
            MAC_INPUT_REGEX,
            error="AA-BB-CC-DD-EE-01 is already in Waiting on activation.",
            mac="aa-bb-cc-dd-ee-01",
            location="Lobby",
        ),
        "device_added": cards.device_added_card(WAITING_NO_CODE, CARD_ID),
        "table_all": cards.device_table_card("all", ALL_DEVICES, 1, 1, COUNTS, NOW, CARD_ID),
        "table_waiting_page2": cards.device_table_card("waiting", ALL_DEVICES[:4], 2, 3, COUNTS, NOW, CARD_ID),
        "table_signedin_empty": cards.device_table_card("signedin", [], 1, 0, {}, NOW, CARD_ID),
        "summary": cards.summary_card(COUNTS, ALL_DEVICES[:4], NOW, CARD_ID, waiting_page_count=2),
        "summary_empty": cards.summary_card({}, [], NOW, CARD_ID),
        "codes": cards.codes_card([WAITING_WITH_CODE], NOW, CARD_ID),
        "codes_page2": cards.codes_card([WAITING_WITH_CODE], NOW, CARD_ID, page=2, page_count=3),
        "codes_empty": cards.codes_card([], NOW, CARD_ID),
        "code_issued": cards.code_issued_card(WAITING_WITH_CODE, NOW, CARD_ID),
        "codes_issued": cards.codes_issued_card([WAITING_WITH_CODE], NOW, CARD_ID),
        "codes_issued_none": cards.codes_issued_card([], NOW, CARD_ID),
        "status_waiting": cards.device_status_card(WAITING_WITH_CODE, NOW, CARD_ID, HISTORY[:2]),
        "status_signed_in": cards.device_status_card(SIGNED_IN, NOW, CARD_ID, HISTORY),
        "status_signing_in": cards.device_status_card(SIGNING_IN, NOW, CARD_ID),
        "confirm_remove": cards.confirm_remove_card(WAITING_WITH_CODE, CARD_ID),
        "confirm_sign_out": cards.confirm_sign_out_card(SIGNED_IN, CARD_ID),
        "confirm_sign_out_approved": cards.confirm_sign_out_card(APPROVED, CARD_ID),
        "confirm_switch": cards.confirm_switch_card(SIGNED_IN, "room-2.15@contoso.com", CARD_ID),
        "table_signedin": cards.device_table_card("signedin", [SIGNED_IN], 1, 1, COUNTS, NOW, CARD_ID),
        "firmware_catalog": cards.firmware_catalog_card(catalog.entries),
        "firmware_supported": cards.firmware_check_card(catalog.check("Yealink T55A", "58.15.0.200")),
        "firmware_too_old": cards.firmware_check_card(catalog.check("T55A", "58.14.9")),
        "firmware_unknown": cards.firmware_check_card(catalog.check("Nokia 3310", "1.0")),
        "sign_in": cards.sign_in_card(SIGNING_IN, "BCDF-GHJK", NOW + timedelta(minutes=14, seconds=30), NOW, CARD_ID),
        "sign_in_error": cards.sign_in_card(
            SIGNING_IN,
            "BCDF-GHJK",
            NOW + timedelta(minutes=3),
            NOW,
            CARD_ID,
            error="'room' is not a user principal name.",
            account="room",
        ),
        "sign_in_expired": cards.sign_in_card(SIGNING_IN, "BCDF-GHJK", NOW - timedelta(seconds=1), NOW, CARD_ID),
        "upload_help": cards.upload_help_card(CARD_ID),
        "import_summary": cards.import_summary_card(12, 1, 2, REJECTED, None, CARD_ID),
        "import_summary_many": cards.import_summary_card(
            0,
            0,
            300,
            [cards.RejectedRow(i + 2, "x", "invalid MAC ID") for i in range(300)],
            "https://bot.example.com/files/abc?sig=1",
            CARD_ID,
        ),
        "download": cards.download_card(
            "Technician export",
            "provisioning-waiting.csv",
            "https://bot.example.com/files/Xy9?t=1",
            NOW + timedelta(hours=1),
            NOW,
        ),
    }
