"""Remote sign-in: `signin <MAC> [account]` and the sign-in card's buttons.

Starting a sign-in creates an RFC 8628 grant at once and shows its user code; the admin
checks it against the device's screen and approves an account, or cancels. The device
collects its token at its next poll, and the notices tell the admin when it has.
"""
from __future__ import annotations

import cards
from bot.chat.interactions import CommandCall, Feature, card_action, command
from bot.chat.single_use import CardNotOpen, CardRecord, SingleUseCards, answer_card, closed_message
from bot.chat.submission import Submission
from bot.chat.turn import Card, ChatTurn, new_card_id
from bot.notices import Notifier
from cards import actions as a
from provisioning.clock import Clock
from provisioning.codes import format_user_code
from provisioning.devices import Device, DeviceState
from provisioning.errors import InvalidAccount, ProvisioningError
from provisioning.service import ProvisioningService

PURPOSE_SIGN_IN = "sign_in"


class SignIn(Feature):
    title = "Sign-in"

    def __init__(self, service: ProvisioningService, single_use: SingleUseCards, notices: Notifier,
                 clock: Clock) -> None:
        self._service = service
        self._single_use = single_use
        self._notices = notices
        self._clock = clock

    @command("signin", summary="Start the remote sign-in of a device waiting for sign in.",
             usage="signin <MAC> [account@domain]", menu_rank=7)
    async def signin(self, turn: ChatTurn, call: CommandCall) -> None:
        args = call.expect(1, 2)
        await self.start(turn, args[0], args[1] if len(args) > 1 else None)

    @card_action(a.SIGN_IN_START)
    async def signin_button(self, turn: ChatTurn, submission: Submission) -> None:
        await self.start(turn, submission.mac, None)

    async def start(self, turn: ChatTurn, mac_text: str, account: str | None) -> None:
        """Start a sign-in, or, while one is pending, show its card again (a lost card must not
        leave the admin waiting for the grant to expire)."""
        device = self._service.get_device(turn.tenant_id, mac_text)
        grant = device.sign_in
        pending = (device.state is DeviceState.SIGNING_IN and grant is not None
                   and grant.is_live_at(self._clock.now()) and not grant.approved)
        if not pending:
            device = await self._service.start_sign_in(turn.tenant_id, turn.actor, mac_text, account)
        await self._notices.follow(turn, [device.mac])
        card_id = new_card_id()
        await self._single_use.send(turn, self._card(device, card_id), card_id, PURPOSE_SIGN_IN, _subject(device))

    @card_action(a.SIGN_IN_APPROVE)
    async def approve(self, turn: ChatTurn, submission: Submission) -> None:
        mac = submission.mac
        account = submission.text("account", required=False, max_length=256)
        record = await self._claim(turn, submission, mac)
        if record is None:
            return
        try:
            device = await self._service.approve_sign_in(turn.tenant_id, turn.actor, mac, account)
        except InvalidAccount as bad:
            await self._single_use.release(turn.tenant_id, record)
            current = self._service.get_device(turn.tenant_id, mac)
            await answer_card(turn, record, self._card(current, record.card_id, bad.message, account))
            return
        except ProvisioningError as refusal:
            current = self._service.get_device(turn.tenant_id, mac)
            grant = current.sign_in
            if grant is not None and grant.is_expired_at(self._clock.now()) and not grant.denied:
                # The expired card says so and offers a new sign-in.
                await answer_card(turn, record, self._card(current, new_card_id()))
            else:
                await answer_card(turn, record, cards.resolved_card("Sign-in not approved", refusal.message))
            return
        await answer_card(turn, record, cards.resolved_card(
            "Sign-in approved",
            f"{device.mac} will sign in as {device.sign_in.account if device.sign_in else account} at its next check "
            "(within a few seconds). I'll tell you here when it has."))

    @card_action(a.SIGN_IN_CANCEL)
    async def cancel(self, turn: ChatTurn, submission: Submission) -> None:
        mac = submission.mac
        record = await self._claim(turn, submission, mac)
        if record is None:
            return
        try:
            await self._service.deny_sign_in(turn.tenant_id, turn.actor, mac)
        except ProvisioningError as refusal:
            await answer_card(turn, record, cards.resolved_card("Nothing to cancel", refusal.message))
            return
        await answer_card(turn, record, cards.resolved_card(
            "Sign-in cancelled", f"The device {mac} was refused the sign-in. Start a new one with `signin {mac}`."))

    def _card(self, device: Device, card_id: str, error: str | None = None, account: str = "") -> Card:
        grant = device.sign_in
        assert grant is not None  # start_sign_in always leaves one
        return cards.sign_in_card(device, format_user_code(grant.user_code), grant.expires_at, self._clock.now(),
                                  card_id, error=error, account=account or grant.account or "")

    async def _claim(self, turn: ChatTurn, submission: Submission, mac: str) -> CardRecord | None:
        """The card's record if it is open and still for the device's current sign-in; else say why."""
        device = self._service.get_device(turn.tenant_id, mac)
        try:
            return await self._single_use.claim(turn.tenant_id, submission.card_id, PURPOSE_SIGN_IN, _subject(device),
                                                conversation_id=turn.conversation_id)
        except CardNotOpen as closed:
            if closed.used:
                await turn.say(closed_message(closed, f"Type `status {mac}` to see the device."))
            else:
                await turn.say("That sign-in card is not the current one for this device (a newer sign-in was "
                               "started, or the device moved on), so nothing was changed. Use the newest sign-in "
                               f"card, or start one with `signin {mac}`.")
            return None


def _subject(device: Device) -> str:
    """A sign-in card is for one grant: the admin compared *that* user code with the screen."""
    return f"{device.mac}#{device.sign_in.user_code if device.sign_in else ''}"
