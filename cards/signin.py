"""The remote sign-in card: the RFC 8628 user code to compare with the device's screen,
and the account to sign in; and the confirmations before a sign-out or an account change."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from provisioning.devices import Device, DeviceState

from . import actions as a
from ._device_view import REPORTED_MAX_LENGTH, hardware_text, location_text
from ._elements import Element, Run, card, error_text, facts, heading, plain, run, submit, text, text_input
from ._format import clip, format_time_left, format_utc

# A hint for the client only (JavaScript syntax); the server validates the UPN itself.
UPN_INPUT_REGEX: Final = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def sign_in_card(device: Device, user_code_formatted: str, expires_at: datetime, now: datetime,
                 card_id: str, error: str | None = None, account: str = "") -> Element:
    """Shows the pending grant's user code (`XXXX-XXXX`) and asks for the account.

    Re-send it with `error` and the typed `account` when the server refuses the account.
    Once the grant has expired, the card says so and offers a new sign-in instead."""
    left = format_time_left(expires_at, now)
    summary = facts([
        ("MAC ID", run(device.mac, monospace=True)),
        ("Location", location_text(device)),
        ("Device", hardware_text(device)),
    ])
    if left == "expired":
        return card([
            heading("Sign-in code expired", color="Warning"),
            summary,
            text(f"The code {user_code_formatted} expired at {format_utc(expires_at)}. "
                 "Start a new sign-in; the device shows the new code.", spacing="Medium"),
        ], [submit("Start a new sign-in", a.SIGN_IN_START, card_id, mac=device.mac)])
    return card([
        heading("Sign in a user"),
        summary,
        text("Code on the device's screen", weight="Bolder", spacing="Medium"),
        plain(run(user_code_formatted, monospace=True, size="ExtraLarge", weight="Bolder",
                  color="Accent")),
        text(f"Check that the device shows this code before you approve. Expires "
             f"{format_utc(expires_at)} ({left}).", subtle=True),
        error_text(error) if error else None,
        text_input(a.INPUT_ACCOUNT, "Account to sign in (UPN)", value=account, required=True,
                   regex=UPN_INPUT_REGEX, style="Email", placeholder="room-2.14@contoso.com",
                   error_message="Enter the account's user principal name, such as "
                                 "room-2.14@contoso.com."),
    ], [
        submit("Sign in", a.SIGN_IN_APPROVE, card_id, style="positive", mac=device.mac),
        submit("Cancel", a.SIGN_IN_CANCEL, card_id, ignore_inputs=True, mac=device.mac),
    ])


def confirm_sign_out_card(device: Device, card_id: str) -> Element:
    """Asks once before `signout`: names the device, where it is and the account whose session
    ends. A device whose approved sign-in it has not collected yet is named as such."""
    grant = device.sign_in
    collecting = device.state is not DeviceState.SIGNED_IN and grant is not None
    account = (grant.account if collecting and grant is not None else device.account) or "\u2014"
    pairs: list[tuple[str, Run | Sequence[Run]]] = [
        ("MAC ID", run(device.mac, monospace=True)), ("Location", location_text(device)),
        ("Account", clip(account, REPORTED_MAX_LENGTH))]
    if device.signed_in_at and not collecting:
        pairs.append(("Signed in", format_utc(device.signed_in_at)))
    what = ("Its approved sign-in ends before the device collects it"
            if collecting else "Its session ends at once and its access token stops working")
    return card([
        heading("Sign out this device?"),
        facts(pairs),
        text(f"{what}. It goes back to *Waiting for sign in* and keeps its provisioning: no factory "
             "reset, no new verification code, no technician. Sign an account in again from the chat.",
             spacing="Medium"),
    ], [
        submit("Sign out", a.SIGN_OUT_CONFIRM, card_id, style="destructive", mac=device.mac),
        submit("Cancel", a.SIGN_OUT_CANCEL, card_id, mac=device.mac),
    ])


def confirm_switch_card(device: Device, account: str, card_id: str) -> Element:
    """Asks once before moving a signed-in device to `account` (a UPN already checked)."""
    return card([
        heading("Change the signed-in account?"),
        facts([("MAC ID", run(device.mac, monospace=True)), ("Location", location_text(device)),
               ("From", clip(device.account or "\u2014", REPORTED_MAX_LENGTH)),
               ("To", clip(account, REPORTED_MAX_LENGTH))]),
        text("The current account is signed out at once, and a sign-in for the new one starts: the "
             "next card shows the code the device shows, to check before you approve.", spacing="Medium"),
    ], [
        submit("Change account", a.SWITCH_ACCOUNT_CONFIRM, card_id, style="positive", mac=device.mac,
               account=account),
        submit("Cancel", a.SWITCH_ACCOUNT_CANCEL, card_id, mac=device.mac),
    ])
