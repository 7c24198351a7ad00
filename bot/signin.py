"""Remote sign-in from the chat: `signin <MAC> [account]` and the sign-in card's buttons.

Starting a sign-in creates an RFC 8628 grant at once and shows its user code; the admin
checks it against the device's screen and approves an account, or cancels. The device
collects its token at its next poll, and the notifier tells the admin when it has.
"""
from __future__ import annotations

import cards
from bot import inventory
from bot.card_memory import CardMemory, CardNotOpen, CardRecord
from bot.chat import ChatTurn, new_card_id
from bot.commands import REGISTRY, ParsedCommand, expect_args
from bot.runtime import Runtime
from bot.submissions import SUBMISSIONS, Submission, closed_message, submitted_mac
from cards import actions as a
from provisioning.codes import format_user_code
from provisioning.devices import Device, DeviceState
from provisioning.errors import InvalidAccount, ProvisioningError

PURPOSE_SIGN_IN = "sign_in"


def _card(device: Device, runtime: Runtime, card_id: str, error: str | None = None, account: str = "") -> dict:
    grant = device.sign_in
    assert grant is not None  # start_sign_in always leaves one
    return cards.sign_in_card(device, format_user_code(grant.user_code), grant.expires_at, runtime.clock.now(),
                              card_id, error=error, account=account or grant.account or "")


def _subject(device: Device) -> str:
    """A sign-in card is for one grant: the admin compared *that* user code with the screen."""
    return f"{device.mac}#{device.sign_in.user_code if device.sign_in else ''}"


async def start(turn: ChatTurn, runtime: Runtime, mac_text: str, account: str | None) -> None:
    """Start a sign-in, or, while one is pending, show its card again (a lost card must not
    leave the admin waiting for the grant to expire)."""
    device = runtime.service.get_device(turn.tenant_id, mac_text)
    grant = device.sign_in
    pending = (device.state is DeviceState.SIGNING_IN and grant is not None
               and grant.is_live_at(runtime.clock.now()) and not grant.approved)
    if not pending:
        device = await runtime.service.start_sign_in(turn.tenant_id, turn.actor, mac_text, account)
    await inventory.remember_conversation(turn, runtime, [device.mac])
    card_id = new_card_id()
    await inventory.send_single_use(turn, runtime, _card(device, runtime, card_id), card_id, PURPOSE_SIGN_IN,
                                    _subject(device))


async def _claim(turn: ChatTurn, runtime: Runtime, submission: Submission, mac: str) -> CardRecord | None:
    """The card's record if it is open and still for the device's current sign-in; else say why."""
    device = runtime.service.get_device(turn.tenant_id, mac)
    try:
        return await CardMemory(runtime.store, runtime.clock).claim(
            turn.tenant_id, submission.card_id, PURPOSE_SIGN_IN, _subject(device), conversation_id=turn.conversation_id)
    except CardNotOpen as closed:
        if closed.used:
            await turn.say(closed_message(closed, f"Type `status {mac}` to see the device."))
        else:
            await turn.say("That sign-in card is not the current one for this device (a newer sign-in was "
                           "started, or the device moved on), so nothing was changed. Use the newest sign-in "
                           f"card, or start one with `signin {mac}`.")
        return None


@REGISTRY.command("signin", summary="Start the remote sign-in of a device waiting for sign in.",
                  usage="signin <MAC> [account@domain]")
async def signin_command(turn: ChatTurn, parsed: ParsedCommand, runtime: Runtime) -> None:
    args = expect_args(parsed, 1, 2)
    await start(turn, runtime, args[0], args[1] if len(args) > 1 else None)


@SUBMISSIONS.action(a.SIGN_IN_START)
async def _sign_in_start(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    await start(turn, runtime, submitted_mac(submission), None)


@SUBMISSIONS.action(a.SIGN_IN_APPROVE)
async def _sign_in_approve(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    mac = submitted_mac(submission)
    account = submission.text("account", required=False, max_length=256)
    memory = CardMemory(runtime.store, runtime.clock)
    record = await _claim(turn, runtime, submission, mac)
    if record is None:
        return
    try:
        device = await runtime.service.approve_sign_in(turn.tenant_id, turn.actor, mac, account)
    except InvalidAccount as bad:
        await memory.release(turn.tenant_id, record)
        current = runtime.service.get_device(turn.tenant_id, mac)
        await inventory.answer_card(turn, record, _card(current, runtime, record.card_id, bad.message, account))
        return
    except ProvisioningError as refusal:
        current = runtime.service.get_device(turn.tenant_id, mac)
        grant = current.sign_in
        if grant is not None and grant.is_expired_at(runtime.clock.now()) and not grant.denied:
            # The expired card says so and offers a new sign-in.
            await inventory.answer_card(turn, record, _card(current, runtime, new_card_id()))
        else:
            await inventory.answer_card(turn, record, cards.resolved_card("Sign-in not approved", refusal.message))
        return
    await inventory.answer_card(turn, record, cards.resolved_card(
        "Sign-in approved",
        f"{device.mac} will sign in as {device.sign_in.account if device.sign_in else account} at its next check "
        "(within a few seconds). I'll tell you here when it has."))


@SUBMISSIONS.action(a.SIGN_IN_CANCEL)
async def _sign_in_cancel(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    mac = submitted_mac(submission)
    record = await _claim(turn, runtime, submission, mac)
    if record is None:
        return
    try:
        await runtime.service.deny_sign_in(turn.tenant_id, turn.actor, mac)
    except ProvisioningError as refusal:
        await inventory.answer_card(turn, record, cards.resolved_card("Nothing to cancel", refusal.message))
        return
    await inventory.answer_card(turn, record, cards.resolved_card(
        "Sign-in cancelled", f"The device {mac} was refused the sign-in. Start a new one with `signin {mac}`."))
