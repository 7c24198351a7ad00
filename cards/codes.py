"""Verification-code cards: the valid codes, one issued code, and a bulk issue's result."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from provisioning.devices import Device

from . import actions as a
from ._device_view import device_cell, location_text
from ._elements import Element, action_set, card, cell, facts, heading, run, submit, table, text
from ._format import format_code, format_time_left, format_utc

# Like DEVICE_ROWS_PER_PAGE, sized so a page of worst-case rows stays under MAX_CARD_BYTES.
CODE_ROWS_PER_PAGE: Final = 10
_HOW_TO_ENTER = ("On the device: Settings > Provision device, then enter the code. "
                 "A code works once, and only on the device with that MAC ID.")


def codes_card(devices: Sequence[Device], now: datetime, card_id: str, page: int = 1,
               page_count: int = 1) -> Element:
    """`codes`: one page (1-based) of the devices holding a valid code.

    The caller passes only devices whose code is valid at `now`, at most
    CODE_ROWS_PER_PAGE of them, sorted as it wants them shown."""
    if page < 1 or page > max(page_count, 1):
        raise ValueError(f"page {page} is outside 1..{max(page_count, 1)}")
    body: list[Element | None] = [heading("Verification codes")]
    if devices:
        body += [text(_HOW_TO_ENTER, subtle=True), codes_table(devices, now, card_id)]
        if page_count > 1:
            body.append(text(f"Page {page} of {page_count}", subtle=True))
    else:
        body.append(text("No valid codes. Issue one with **code <MAC>**, or codes for every "
                         "device waiting on activation with **code all**."))
    pager = []
    if page > 1:
        pager.append(submit("\u25c0 Previous", a.SHOW_CODES, card_id, page=page - 1))
    if page < page_count:
        pager.append(submit("Next \u25b6", a.SHOW_CODES, card_id, page=page + 1))
    body.append(action_set(*pager))
    return card(body, [submit("Generate all", a.ISSUE_ALL_CODES, card_id),
                       _export(card_id)], wide=True)


def code_issued_card(device: Device, now: datetime, card_id: str) -> Element:
    """`code <MAC>`: the new code, which replaces any earlier one for that device."""
    if device.code is None:
        raise ValueError(f"device {device.mac} has no code to show")
    code = device.code
    return card([
        heading("Verification code issued"),
        facts([
            ("MAC ID", run(device.mac, monospace=True)),
            ("Location", location_text(device)),
            ("Code", run(format_code(code.value), monospace=True, size="Large", weight="Bolder")),
            ("Expires", f"{format_utc(code.expires_at)} ({format_time_left(code.expires_at, now)})"),
        ]),
        text(_HOW_TO_ENTER + " Any earlier code for this device no longer works.",
             spacing="Medium"),
    ], [submit("Status", a.SHOW_STATUS, card_id, mac=device.mac),
        submit("All codes", a.SHOW_CODES, card_id), _export(card_id)])


def codes_issued_card(devices: Sequence[Device], now: datetime, card_id: str) -> Element:
    """`code all`: how many codes were issued, and the first page of them."""
    shown = list(devices[:CODE_ROWS_PER_PAGE])
    if not devices:
        body: list[Element | None] = [
            heading("No codes issued"),
            text("Every device waiting on activation already has a valid code, or none is "
                 "waiting. **codes** lists the valid ones."),
        ]
    else:
        n = len(devices)
        body = [heading(f"{n} verification code{'' if n == 1 else 's'} issued"),
                text(_HOW_TO_ENTER, subtle=True), codes_table(shown, now, card_id)]
        if n > len(shown):
            body.append(text(f"Showing {len(shown)} of {n}. **Codes** pages through all of "
                             "them; **Export** gives the technician's file.", subtle=True))
    return card(body, [submit("All codes", a.SHOW_CODES, card_id), _export(card_id)], wide=True)


def codes_table(devices: Sequence[Device], now: datetime, card_id: str) -> Element:
    if len(devices) > CODE_ROWS_PER_PAGE:
        raise ValueError(f"{len(devices)} rows; paginate to CODE_ROWS_PER_PAGE ({CODE_ROWS_PER_PAGE})")
    rows = []
    for device in devices:
        if device.code is None:
            raise ValueError(f"device {device.mac} has no code to list")
        expires = device.code.expires_at
        rows.append([
            device_cell(device),
            cell(text(format_code(device.code.value), monospace=True, weight="Bolder"),
                 text(format_utc(expires), spacing="None"),
                 text(format_time_left(expires, now), subtle=True, spacing="None")),
        ])
    # Two columns, so a MAC ID and a code each stay on one line in a 450 px column.
    return table([("MAC ID and location", 1), ("Code (expires UTC)", 1)], rows)


def _export(card_id: str) -> Element:
    return submit("Export", a.EXPORT, card_id, tab=a.TAB_WAITING)
