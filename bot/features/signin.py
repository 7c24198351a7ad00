"""Remote sign-in: `signin <MAC> [account]` and the sign-in card's buttons; `signout <MAC>`
and the account change, each after a confirmation card.

Starting a sign-in creates an RFC 8628 grant at once and shows its user code; the admin
checks it against the device's screen and approves an account, or cancels. The device
collects its token at its next poll, and the notices tell the admin when it has.

A signed-in device is signed out (its session ends, it keeps its provisioning) or moved to
another account (`signin <MAC> <account>`: the session ends and a sign-in for the new
account starts) after a confirmation card bound to the device's current session, so a
card left over from an earlier session changes nothing. When the device itself asks for a
new code, its sign-in card goes to the conversation told about it (`offer_requested`).
"""
from __future__ import annotations

import cards
from bot.chat.interactions import CommandCall, Feature, Refused, card_action, command
from bot.chat.markdown import literal
from bot.chat.single_use import CardNotOpen, CardRecord, SingleUseCards, answer_card, closed_message
from bot.chat.submission import Submission
from bot.chat.turn import Card, ChatTurn, new_card_id
from bot.notices import Notifier, conversation_id_of
from cards import actions as a
from provisioning import devices as lifecycle
from provisioning.clock import Clock
from provisioning.codes import format_user_code
from provisioning.devices import Device, DeviceState, parse_account, session_key
from provisioning.errors import InvalidAccount, ProvisioningError
from provisioning.service import ProvisioningService

PURPOSE_SIGN_IN = "sign_in"
PURPOSE_CONFIRM_SIGN_OUT = "confirm_signout"
PURPOSE_CONFIRM_SWITCH = "confirm_switch"


class SignIn(Feature):
    title = "Sign-in"

    def __init__(self, service: ProvisioningService, single_use: SingleUseCards, notices: Notifier,
                 clock: Clock) -> None:
        self._service = service
        self._single_use = single_use
        self._notices = notices
        self._clock = clock

    @command("signin", summary="Sign a device in remotely, or move a signed-in one to another account.",
             usage="signin <MAC> [account@domain]", menu_rank=7)
    async def signin(self, turn: ChatTurn, call: CommandCall) -> None:
        args = call.expect(1, 2)
        account = args[1] if len(args) > 1 else None
        device = self._service.get_device(turn.tenant_id, args[0])
        if device.state is DeviceState.SIGNED_IN and account is not None:
            await self.offer_switch(turn, device, account)
            return
        await self.start(turn, args[0], account)

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

    async def offer_requested(self, device: Device) -> None:
        """The device asked for a new code itself ("Refresh code"): its sign-in card goes, with a
        notice, to the conversation told about the device. The card is single use like any
        sign-in card (its activity id is unknown: a proactive send returns none to keep)."""
        reference = self._notices.told_in(device)
        conversation_id = conversation_id_of(reference) if reference is not None else None
        card_id = new_card_id()
        if conversation_id is not None:
            record = self._single_use.new_record(card_id, PURPOSE_SIGN_IN, None, conversation_id, _subject(device))
            await self._single_use.remember(device.tenant_id, record)
        self._notices.sign_in_requested(device, self._card(device, card_id), reference)

    # --- sign-out -----------------------------------------------------------------------

    @command("signout", summary="Sign a device out remotely; it keeps its provisioning (asks for confirmation).",
             usage="signout <MAC>", menu_rank=8)
    async def signout(self, turn: ChatTurn, call: CommandCall) -> None:
        (mac_text,) = call.expect(1, 1)
        await self.ask_sign_out(turn, mac_text)

    @card_action(a.SIGN_OUT_REQUEST)
    async def sign_out_button(self, turn: ChatTurn, submission: Submission) -> None:
        await self.ask_sign_out(turn, submission.mac)

    async def ask_sign_out(self, turn: ChatTurn, mac_text: str) -> None:
        device = self._service.get_device(turn.tenant_id, mac_text)
        lifecycle.signed_out(device, self._clock.now(), turn.actor.name)  # refuses now what the confirm would
        card_id = new_card_id()
        await self._single_use.send(turn, cards.confirm_sign_out_card(device, card_id), card_id,
                                    PURPOSE_CONFIRM_SIGN_OUT, _session_subject(device))

    @card_action(a.SIGN_OUT_CONFIRM)
    async def sign_out_confirmed(self, turn: ChatTurn, submission: Submission) -> None:
        mac = submission.mac
        device = self._service.get_device(turn.tenant_id, mac)
        session = session_key(device)  # read with the claim, before any await: the service checks it again
        record = await self._claim_confirmation(turn, submission, PURPOSE_CONFIRM_SIGN_OUT, _session_subject(device),
                                                f"Type `status {mac}` to see the device.")
        if record is None:
            return
        try:
            before, _ = await self._service.sign_out(turn.tenant_id, turn.actor, mac, session)
        except ProvisioningError as refusal:
            await answer_card(turn, record, cards.resolved_card("Not signed out", refusal.message))
            return
        account = _account_of(before)
        self._notices.wake()  # its notice was committed with the sign-out
        await answer_card(turn, record, cards.resolved_card(
            "Device signed out",
            f"{mac} is signed out{f' of {account}' if account else ''}: its session ended and its access token "
            f"no longer works. It is waiting for sign in, still provisioned; sign an account in with `signin {mac}`."))

    @card_action(a.SIGN_OUT_CANCEL)
    async def sign_out_cancelled(self, turn: ChatTurn, submission: Submission) -> None:
        await self._cancel_confirmation(turn, submission, PURPOSE_CONFIRM_SIGN_OUT, "was not signed out")

    # --- account change -----------------------------------------------------------------

    async def offer_switch(self, turn: ChatTurn, device: Device, account: str) -> None:
        """`signin <MAC> <account>` on a signed-in device: confirm the change, from whom to whom."""
        upn = parse_account(account)
        if device.account is not None and upn.casefold() == device.account.casefold():
            raise Refused(f"{device.mac} is already signed in as {literal(device.account)}; nothing to change. "
                          f"To end its session, type `signout {device.mac}`.")
        card_id = new_card_id()
        await self._single_use.send(turn, cards.confirm_switch_card(device, upn, card_id), card_id,
                                    PURPOSE_CONFIRM_SWITCH, _session_subject(device, upn))

    @card_action(a.SWITCH_ACCOUNT_CONFIRM)
    async def switch_confirmed(self, turn: ChatTurn, submission: Submission) -> None:
        mac = submission.mac
        account = submission.text("account", max_length=256)
        device = self._service.get_device(turn.tenant_id, mac)
        session = session_key(device)
        record = await self._claim_confirmation(turn, submission, PURPOSE_CONFIRM_SWITCH,
                                                _session_subject(device, account),
                                                f"Type `status {mac}` to see the device.")
        if record is None:
            return
        try:
            before, after = await self._service.switch_account(turn.tenant_id, turn.actor, mac, account, session)
        except ProvisioningError as refusal:
            await answer_card(turn, record, cards.resolved_card("Account not changed", refusal.message))
            return
        grant = after.sign_in
        assert grant is not None and grant.account is not None  # switch_account starts one
        self._notices.wake()  # its notice was committed with the change
        await self._notices.follow(turn, [mac])
        await answer_card(turn, record, cards.resolved_card(
            "Account change started",
            f"{before.account or 'The account'} was signed out of {mac}. Check the code on the next card against "
            f"the device's screen, then approve {grant.account}."))
        card_id = new_card_id()
        await self._single_use.send(turn, self._card(after, card_id), card_id, PURPOSE_SIGN_IN, _subject(after))

    @card_action(a.SWITCH_ACCOUNT_CANCEL)
    async def switch_cancelled(self, turn: ChatTurn, submission: Submission) -> None:
        await self._cancel_confirmation(turn, submission, PURPOSE_CONFIRM_SWITCH, "keeps its account")

    async def _claim_confirmation(self, turn: ChatTurn, submission: Submission, purpose: str, subject: str,
                                  next_step: str) -> CardRecord | None:
        """The confirmation card's record if it is open and for the device's current session; else say why."""
        try:
            return await self._single_use.claim(turn.tenant_id, submission.card_id, purpose, subject,
                                                conversation_id=turn.conversation_id)
        except CardNotOpen as closed:
            if closed.used:
                await turn.say(closed_message(closed, next_step))
            else:
                await turn.say("That card is not for the device's current session (it was signed out, signed in "
                               "again or reset since, or the card is from elsewhere), so nothing was changed. "
                               + next_step)
            return None

    async def _cancel_confirmation(self, turn: ChatTurn, submission: Submission, purpose: str, outcome: str) -> None:
        mac = submission.mac
        try:
            record = await self._single_use.claim(turn.tenant_id, submission.card_id, purpose,
                                                  conversation_id=turn.conversation_id)
        except CardNotOpen as closed:
            await turn.say(closed_message(closed, "Nothing was changed."))
            return
        await answer_card(turn, record, cards.resolved_card("Cancelled", f"{mac} {outcome}."))

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


def _session_subject(device: Device, account: str | None = None) -> str:
    """A sign-out or account-change card is for one session (and, for a change, one new account)."""
    subject = f"{device.mac}#{session_key(device)}"
    return f"{subject}>{account}" if account is not None else subject


def _account_of(device: Device) -> str | None:
    """The account signed in, or about to be (an approved sign-in not collected yet)."""
    if device.account is not None:
        return device.account
    return device.sign_in.account if device.sign_in is not None else None


def _subject(device: Device) -> str:
    """A sign-in card is for one grant: the admin compared *that* user code with the screen."""
    return f"{device.mac}#{device.sign_in.user_code if device.sign_in else ''}"
