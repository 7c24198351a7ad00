"""How one device is described in any card: state, code, hardware, and its buttons."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from provisioning.devices import Device, DeviceState
from provisioning.service import LOCATION_MAX_LENGTH as LOCATION_MAX_LENGTH  # re-exported

from . import actions as a
from ._elements import Element, Run, action_set, cell, plain, run, submit, text
from ._format import clip, format_code, format_time_left, format_utc

# Device-reported strings (model, firmware, account) have no limit the cards can rely on.
REPORTED_MAX_LENGTH = 64
TABLE_CELL_MAX = 40  # device-reported text in a table cell; the status card shows more


# A line of the bot's own text and the style keywords `run()` and `text()` share.
Line = tuple[str, dict[str, Any]]


def state_parts(device: Device) -> list[Line]:
    parts: list[Line] = [(device.state.label, {"weight": "Bolder"})]
    if device.locked and device.state is DeviceState.WAITING_ON_ACTIVATION:
        parts.append(("Locked after too many wrong codes", {"color": "Attention"}))
    return parts


HIDDEN_CODE = "Issued (shown only in a personal chat)"


def code_parts(device: Device, now: datetime, reveal: bool = True) -> list[Line]:
    """The code and its expiry, or why there is none. With `reveal` off (a chat others
    read), a valid code is only said to exist."""
    code = device.code
    if device.locked and device.state is DeviceState.WAITING_ON_ACTIVATION:
        return [("Locked: issue a new code", {"color": "Attention"})]
    if code is None:
        return [("No code yet", {"subtle": True})]
    when = format_utc(code.expires_at)
    if not code.is_valid_at(now):
        return [("Code expired", {"color": "Warning"}), (when, {"subtle": True})]
    if not reveal:
        return [(HIDDEN_CODE, {}), (f"{when} ({format_time_left(code.expires_at, now)})", {"subtle": True})]
    return [(format_code(code.value), {"monospace": True, "weight": "Bolder"}),
            (f"{when} ({format_time_left(code.expires_at, now)})", {"subtle": True})]


def as_runs(parts: list[Line]) -> list[Run]:
    """Parts on one line, for a fact value."""
    runs: list[Run] = []
    for index, (value, style) in enumerate(parts):
        runs.append(run(value if index == 0 else f"  {value}", **style))
    return runs


def as_text_blocks(parts: list[Line]) -> list[Element]:
    """Parts one per line, for a table cell (TextBlocks: smaller than RichTextBlocks)."""
    return [text(value, **style) for value, style in parts]


def hardware_text(device: Device, limit: int = REPORTED_MAX_LENGTH) -> str:
    """`Yealink T55A, firmware 58.15.0.124`, or what is not known yet."""
    name = " ".join(clip(part, limit) for part in (device.manufacturer, device.model) if part)
    firmware = f"firmware {clip(device.firmware, limit)}" if device.firmware else ""
    return ", ".join(part for part in (name, firmware) if part) or "Model not reported yet"


def detail_lines(device: Device, now: datetime, reveal_codes: bool = True,
                 with_state: bool = False) -> list[Element]:
    """A table's middle column: the code while waiting on activation, the hardware after
    (and the account once signed in). `with_state` puts the state first, for a list of
    every state; a tab of one state leaves it out, except for a sign-in in progress.

    Device-reported text is clipped harder here than in the status card: it is the
    main lever on a table page's size."""
    lines: list[Element] = as_text_blocks(state_parts(device)) if with_state else []
    if device.state is DeviceState.WAITING_ON_ACTIVATION:
        if with_state and device.locked:
            return lines  # the state already says it is locked and what to do
        return lines + as_text_blocks(code_parts(device, now, reveal_codes))
    if device.state is DeviceState.SIGNING_IN and not with_state:
        lines += as_text_blocks([(DeviceState.SIGNING_IN.label, {"weight": "Bolder"})])
    lines.append(plain(clip(hardware_text(device), TABLE_CELL_MAX)))
    if device.state is DeviceState.SIGNED_IN and device.account:
        lines.append(plain(run(clip(device.account, TABLE_CELL_MAX), subtle=True)))
    return lines


def device_actions(device: Device, now: datetime, card_id: str) -> list[Element]:
    """The buttons that fit the device's state, then Remove."""
    buttons: list[Element] = []
    if device.state is DeviceState.WAITING_ON_ACTIVATION:
        # "New code" warns that the valid code the technician may hold will stop working.
        title = "New code" if has_valid_code(device, now) else "Generate code"
        buttons.append(issue_code_action(device, card_id, title))
    elif device.state in (DeviceState.WAITING_FOR_SIGN_IN, DeviceState.SIGNING_IN):
        buttons.append(submit("Sign in", a.SIGN_IN_START, card_id, mac=device.mac))
    elif device.state is DeviceState.SIGNED_IN:
        buttons.append(sign_out_action(device, card_id))
    buttons.append(submit("Remove", a.REMOVE_REQUEST, card_id, style="destructive", mac=device.mac))
    return buttons


def has_valid_code(device: Device, now: datetime) -> bool:
    return device.code is not None and not device.locked and device.code.is_valid_at(now)


def issue_code_action(device: Device, card_id: str, title: str = "Generate code") -> Element:
    """Carries what the card showed (state, and when the current code was issued, if any), so
    a second click, or a click after someone else issued a code, changes nothing."""
    return submit(title, a.ISSUE_CODE, card_id, mac=device.mac, expected_state=device.state.value,
                  code_issued_at=device.code.issued_at.isoformat() if device.code else "")


def sign_out_action(device: Device, card_id: str) -> Element:
    """Asks for the confirmation card before a signed-in device is signed out."""
    return submit("Sign out", a.SIGN_OUT_REQUEST, card_id, mac=device.mac)


def device_cell(device: Device) -> Element:
    """A table's first cell: the MAC ID, with the location under it."""
    return cell(text(device.mac, monospace=True, weight="Bolder"),
                plain(run(location_text(device), subtle=True), spacing="None"))


def open_cell(device: Device, card_id: str) -> Element:
    """A table's last cell: the one button of a row, opening the device's status card, which
    holds its state's actions (code, sign in, remove). One short title fits a phone."""
    return cell(action_set(submit("Open", a.SHOW_STATUS, card_id, mac=device.mac)))


def location_text(device: Device) -> str:
    return clip(device.location, LOCATION_MAX_LENGTH) if device.location else "\u2014"
