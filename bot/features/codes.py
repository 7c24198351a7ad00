"""Verification codes: issue one (`code <MAC>`, *Generate code*), issue every missing one
(`code all`), and list the valid ones. Codes are secrets: shown in one-to-one chats only.

Issuing a code makes this conversation the one told when the device then provisions.
"""
from __future__ import annotations

import cards
from bot.chat.interactions import CommandCall, Feature, Refused, card_action, command
from bot.chat.paging import page_count, typed_page
from bot.chat.progress import ProgressMessage, counted
from bot.chat.submission import Submission
from bot.chat.turn import ChatTurn, new_card_id
from bot.notices import Notifier
from bot.process import collector_paused
from cards import actions as a
from provisioning.clock import Clock
from provisioning.devices import DeviceState
from provisioning.service import AsShown, ProvisioningService

CODES = "Verification codes"
_NONE_DUE = ("Every device waiting on activation already has a valid code (or there are none). "
             "Type `codes` to see them, or `add <MAC> [location]` to add devices.")


class Codes(Feature):
    title = "Verification codes"

    def __init__(self, service: ProvisioningService, notices: Notifier, clock: Clock) -> None:
        self._service = service
        self._notices = notices
        self._clock = clock

    @command("code", summary="Issue a device's verification code (valid 24 h), or codes for all.",
             usage="code <MAC> | code all", menu_rank=4, secret=CODES)
    async def code(self, turn: ChatTurn, call: CommandCall) -> None:
        (target,) = call.expect(1, 1)
        if target.lower() == "all":
            await self.issue_all(turn)
        else:
            await self.issue(turn, target)

    @card_action(a.ISSUE_CODE, secret=CODES)
    async def code_button(self, turn: ChatTurn, submission: Submission) -> None:
        await self.issue(turn, submission.mac, submission.state(),
                         submission.text("code_issued_at", required=False, max_length=64))

    @card_action(a.ISSUE_ALL_CODES, secret=CODES)
    async def code_all_button(self, turn: ChatTurn, submission: Submission) -> None:
        await self.issue_all(turn)

    async def issue(self, turn: ChatTurn, mac_text: str, expected_state: DeviceState | None = None,
                    shown_code_issued_at: str | None = None) -> None:
        """Issue a code; from a card, only if the device still is as the card showed it (its state
        and when its current code, if any, was issued), so a second click can't void a code."""
        as_shown = AsShown(expected_state, shown_code_issued_at) if expected_state is not None else None
        device = await self._service.issue_code(turn.tenant_id, turn.actor, mac_text, as_shown)
        await self._notices.follow(turn, [device.mac])
        await turn.show(cards.code_issued_card(device, self._clock.now(), new_card_id()))

    async def issue_all(self, turn: ChatTurn) -> None:
        # Thousands of codes take seconds: a progress card after ~2 s, updated in place,
        # replaced by the answer (the service counts the devices coded in its worker thread).
        progress = ProgressMessage(turn, "Issuing verification codes", counted("devices", "coded"))
        with collector_paused():  # a million new long-lived objects: see bot/process.py
            devices = await progress.run(self._service.issue_codes_for_all(turn.tenant_id, turn.actor,
                                                                           progress.progress))
        await self._notices.follow(turn, [])
        if not devices:
            if progress.activity_id is not None:
                await progress.finish(cards.progress_card("No codes issued", _NONE_DUE))
                return
            await turn.say(_NONE_DUE)
            return
        await progress.finish(cards.codes_issued_card(devices, self._clock.now(), new_card_id()))

    @command("codes", summary="List the valid verification codes with time left.", usage="codes [page N]",
             menu_rank=5, secret=CODES)
    async def codes(self, turn: ChatTurn, call: CommandCall) -> None:
        args = [word.lower() for word in call.expect(0, 2)]
        await self.show_codes(turn, typed_page(args, call))

    @card_action(a.SHOW_CODES, secret=CODES)
    async def codes_button(self, turn: ChatTurn, submission: Submission) -> None:
        await self.show_codes(turn, submission.page())

    async def show_codes(self, turn: ChatTurn, page: int = 1) -> None:
        devices = await self._service.sorted_valid_codes(turn.tenant_id)
        per_page = cards.CODE_ROWS_PER_PAGE
        pages = page_count(len(devices), per_page)
        if page > pages:
            raise Refused(f"There is no page {page}: the codes fill {pages} page(s). "
                                    f"Try `codes page {pages}`.")
        chunk = devices[(page - 1) * per_page: page * per_page]
        await turn.show(cards.codes_card(chunk, self._clock.now(), new_card_id(), page=page, page_count=pages))

