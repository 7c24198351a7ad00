"""Device cards: the Add MAC ID form and its result, the per-tab table, the summary,
one device's status, and the remove confirmation."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from provisioning.devices import Device, DeviceState, HistoryEntry
from provisioning.mac import ACCEPTED_MAC_FORMS

from . import actions as a
from ._device_view import (
    LOCATION_MAX_LENGTH,
    as_runs,
    code_parts,
    detail_lines,
    device_actions,
    device_cell,
    hardware_text,
    issue_code_action,
    location_text,
    open_cell,
    sign_out_action,
    state_parts,
)
from ._elements import (
    Element,
    Run,
    action_set,
    card,
    cell,
    error_text,
    facts,
    heading,
    plain,
    run,
    submit,
    table,
    text,
    text_input,
)
from ._format import clip, format_utc
from .tabs import TAB_LABELS, check_tab, tab_counts

# Chosen so a full page of worst-case rows stays under MAX_CARD_BYTES: 128-character
# locations of characters that JSON escapes to 12 bytes each (emoji, with the default
# ensure_ascii), device-reported text at its clip limits; a test builds exactly that.
DEVICE_ROWS_PER_PAGE: Final = 7
STATUS_HISTORY_SHOWN: Final = 8
_HISTORY_ACTOR_MAX = 40
_HISTORY_DETAIL_MAX = 100
_STATUS_REPORTED_MAX = 96

_DETAIL_HEADER = {
    a.TAB_WAITING: "Code (expires UTC)",
    a.TAB_SIGNIN: "Model and firmware",
    a.TAB_SIGNEDIN: "Model and account",
    a.TAB_ALL: "State",
}
_ACCEPTED_FORMS = ", ".join(ACCEPTED_MAC_FORMS[:-1]) + " or " + ACCEPTED_MAC_FORMS[-1]


def add_device_form(card_id: str, mac_regex: str, error: str | None = None, mac: str = "",
                    location: str = "") -> Element:
    """The "Add MAC ID" form. Re-sent with `error` and the typed values when the server
    refuses a submission, so the admin can fix the input instead of retyping it."""
    body: list[Element | None] = [
        heading("Add MAC ID"),
        text("The device goes to *Waiting on activation*. You can also type "
             "**add <MAC> [location]**.", subtle=True),
        error_text(error) if error else None,
        text_input(a.INPUT_MAC, "MAC ID", value=mac, placeholder="AA-BB-CC-DD-EE-FF",
                   required=True, regex=mac_regex,
                   error_message=f"Enter a MAC ID written {_ACCEPTED_FORMS}."),
        text_input(a.INPUT_LOCATION, "Location", value=location, max_length=LOCATION_MAX_LENGTH,
                   placeholder="Where the technician will find it, e.g. Building 2, room 2.14"),
    ]
    return card(body, [submit("Add device", a.ADD_DEVICE, card_id, style="positive")])


def device_added_card(device: Device, card_id: str) -> Element:
    """Replaces the submitted form (so it cannot be sent twice) and says what is next."""
    return card([
        heading("Device added"),
        facts([("MAC ID", run(device.mac, monospace=True)), ("Location", location_text(device)),
               ("State", as_runs(state_parts(device)))]),
        text(f"Next: issue a verification code with **code {device.mac}**.", spacing="Medium"),
    ], [issue_code_action(device, card_id), submit("Add another", a.SHOW_ADD_FORM, card_id)])


def device_table(devices: Sequence[Device], now: datetime, card_id: str, tab: str,
                 reveal_codes: bool = True) -> Element:
    """One page of devices, shaped for a narrow Teams column (about 450 px): the MAC ID over
    its location, the code or the hardware (after the state, on the All tab), and one
    *Open* button per row for the device's status card, which holds its actions."""
    if len(devices) > DEVICE_ROWS_PER_PAGE:
        raise ValueError(f"{len(devices)} rows; paginate to DEVICE_ROWS_PER_PAGE "
                         f"({DEVICE_ROWS_PER_PAGE}) so the card stays small enough for Teams")
    # The Signed in tab offers Sign out under each account (the Open column is too narrow for it).
    rows = [[device_cell(d), cell(*detail_lines(d, now, reveal_codes, with_state=tab == a.TAB_ALL),
                                  action_set(sign_out_action(d, card_id), spacing="Small")
                                  if tab == a.TAB_SIGNEDIN and d.state is DeviceState.SIGNED_IN else None),
             open_cell(d, card_id)]
            for d in devices]
    return table([("MAC ID and location", 8), (_DETAIL_HEADER[tab], 9), ("", 4)], rows)


def device_table_card(tab: str, devices: Sequence[Device], page: int, page_count: int,
                      counts: Mapping[DeviceState, int], now: datetime, card_id: str,
                      reveal_codes: bool = True) -> Element:
    """`list <tab> [page N]`: one page (1-based) of one tab, with tab and page buttons.
    `reveal_codes` off hides verification codes (for a chat others read)."""
    check_tab(tab)
    _check_page(page, page_count)
    total = tab_counts(counts)[tab]
    body: list[Element | None] = [
        heading(TAB_LABELS[tab]),
        _tab_tiles(counts, card_id, current=tab),
        text(f"{_devices(total)} \u00b7 page {page} of {max(page_count, 1)}", subtle=True,
             spacing="Medium"),
    ]
    if devices:
        body += [device_table(devices, now, card_id, tab, reveal_codes),
                 text(_OPEN_HINT, subtle=True)]
    else:
        body.append(text(_EMPTY_TAB[tab]))
    body.append(_pager(tab, page, page_count, card_id))
    return card(body, [submit("Add device", a.SHOW_ADD_FORM, card_id)], wide=True)


def summary_card(counts: Mapping[DeviceState, int], waiting_devices: Sequence[Device],
                 now: datetime, card_id: str, waiting_page_count: int = 1,
                 reveal_codes: bool = True) -> Element:
    """`list` with no argument: devices per tab, then page 1 of *Waiting on activation*."""
    totals = tab_counts(counts)
    body: list[Element | None] = [heading("Devices"), _tab_tiles(counts, card_id),
                                  text(TAB_LABELS[a.TAB_WAITING], weight="Bolder", size="Medium",
                                       spacing="Large")]
    if waiting_devices:
        body.append(device_table(waiting_devices, now, card_id, a.TAB_WAITING, reveal_codes))
    else:
        body.append(text(_EMPTY_TAB[a.TAB_WAITING]))
    body.append(_pager(a.TAB_WAITING, 1, waiting_page_count, card_id))
    actions = [submit("Add device", a.SHOW_ADD_FORM, card_id), submit("Codes", a.SHOW_CODES, card_id)]
    if totals[a.TAB_WAITING]:
        # "Generate all codes" is cut to "Generate all co..." in a 450 px column.
        actions.insert(1, submit("Generate codes", a.ISSUE_ALL_CODES, card_id))
    return card(body, actions, wide=True)


def device_status_card(device: Device, now: datetime, card_id: str,
                       history: Sequence[HistoryEntry] | None = None, reveal_codes: bool = True) -> Element:
    """`status <MAC>`: everything known about one device, newest history first.
    `history` defaults to the device's own."""
    pairs: list[tuple[str, Run | Sequence[Run]]] = [("State", as_runs(state_parts(device))),
                                                    ("Location", location_text(device))]
    if device.state is DeviceState.WAITING_ON_ACTIVATION:
        pairs.append(("Code", as_runs(code_parts(device, now, reveal_codes))))
    else:
        pairs.append(("Device", clip(hardware_text(device), _STATUS_REPORTED_MAX)))
    if device.sign_in and device.state is DeviceState.SIGNING_IN:
        pairs.append(("Sign-in", f"started {format_utc(device.sign_in.started_at)}, "
                                 f"expires {format_utc(device.sign_in.expires_at)}"))
    if device.account:
        pairs.append(("Account", clip(device.account, _STATUS_REPORTED_MAX)))
    if device.signed_in_at:
        pairs.append(("Signed in", format_utc(device.signed_in_at)))
    pairs += [("Added", format_utc(device.created_at)), ("Changed", format_utc(device.updated_at))]
    entries = list(device.history if history is None else history)[::-1]
    body: list[Element | None] = [heading(f"Device {device.mac}"), facts(pairs),
                                  text("History", weight="Bolder", spacing="Medium")]
    body += [_history_line(entry) for entry in entries[:STATUS_HISTORY_SHOWN]] or [
        text("No history yet.", subtle=True)]
    if len(entries) > STATUS_HISTORY_SHOWN:
        body.append(text(f"{len(entries) - STATUS_HISTORY_SHOWN} older entries not shown.", subtle=True))
    return card(body, device_actions(device, now, card_id))


def confirm_remove_card(device: Device, card_id: str) -> Element:
    """Asks once before `remove`. The bot replaces it after either button."""
    return card([
        heading("Remove this device?"),
        facts([("MAC ID", run(device.mac, monospace=True)), ("Location", location_text(device)),
               ("State", as_runs(state_parts(device)))]),
        text("The device leaves the list and its verification code, if any, stops working. "
             "To provision it later, add it again.", spacing="Medium"),
    ], [
        submit("Remove", a.REMOVE_CONFIRM, card_id, style="destructive", mac=device.mac,
               expected_state=device.state.value),
        submit("Cancel", a.REMOVE_CANCEL, card_id, mac=device.mac),
    ])


_OPEN_HINT = "Open a device for its status, history and actions (code, sign in, sign out, remove)."
_EMPTY_TAB = {
    a.TAB_WAITING: "No device is waiting on activation. Add one with **add <MAC> [location]** "
                   "or upload a file of MAC IDs.",
    a.TAB_SIGNIN: "No device is waiting for sign in. A device gets here once a technician "
                  "enters its verification code.",
    a.TAB_SIGNEDIN: "No device is signed in yet.",
    a.TAB_ALL: "No devices yet. Add one with **add <MAC> [location]**.",
}


def _devices(n: int) -> str:
    return f"{n} device" + ("" if n == 1 else "s")


def _check_page(page: int, page_count: int) -> None:
    if page < 1 or page > max(page_count, 1):
        raise ValueError(f"page {page} is outside 1..{max(page_count, 1)}")


def _pager(tab: str, page: int, page_count: int, card_id: str) -> Element | None:
    buttons = []
    if page > 1:
        buttons.append(submit("\u25c0 Previous", a.LIST_DEVICES, card_id, tab=tab, page=page - 1))
    if page < page_count:
        buttons.append(submit("Next \u25b6", a.LIST_DEVICES, card_id, tab=tab, page=page + 1))
    return action_set(*buttons)


def _tab_tiles(counts: Mapping[DeviceState, int], card_id: str, current: str | None = None) -> Element:
    """Devices per tab, side by side; select one to list it. The `current` tab is shaded
    and selects nothing. Narrower than a button per tab, whose titles a phone cuts."""
    totals = tab_counts(counts)
    columns = []
    for t in a.TABS:
        column: Element = {"type": "Column", "width": "stretch",
                           "items": [text(str(totals[t]), size="ExtraLarge", weight="Bolder", color="Accent"),
                                     text(TAB_LABELS[t], subtle=True, spacing="None")]}
        if t == current:
            column["style"] = "emphasis"
        else:
            column["selectAction"] = submit(TAB_LABELS[t], a.LIST_DEVICES, card_id, tab=t, page=1)
        columns.append(column)
    return {"type": "ColumnSet", "columns": columns}


def _history_line(entry: HistoryEntry) -> Element:
    runs = [run(format_utc(entry.at) + "  ", subtle=True), run(entry.action, weight="Bolder"),
            run(f" by {clip(entry.actor, _HISTORY_ACTOR_MAX)}")]
    if entry.detail:
        runs.append(run(f": {clip(entry.detail, _HISTORY_DETAIL_MAX)}"))
    return plain(*runs, spacing="Small")
