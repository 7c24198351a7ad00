"""Card submissions (`Action.Submit`): validated like typed input, then run as flows.

A submit arrives as a message with `value` = the action's data merged with the card's
inputs. Anything in it may be forged: the action name, a missing or non-string field, a
MAC from another tenant, a card id never issued or already used. Each handler reads its
fields through `Submission`, which refuses bad ones with a message the admin can act on.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import cards
from bot import inventory
from bot.card_memory import CardMemory, CardNotOpen
from bot.chat import ChatTurn, new_card_id
from bot.commands import REGISTRY as COMMANDS
from bot.help_commands import command_help
from bot.runtime import Runtime
from cards import actions as a
from provisioning.devices import DeviceState
from provisioning.errors import ProvisioningError
from provisioning.mac import MAC_INPUT_REGEX, parse_mac

log = logging.getLogger(__name__)

MAX_FIELD_LENGTH = 512
SubmitHandler = Callable[[ChatTurn, "Submission", Runtime], Awaitable[None]]


class BadSubmission(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Submission:
    action: str
    card_id: str
    data: dict[str, Any]

    def text(self, key: str, *, required: bool = True, max_length: int = MAX_FIELD_LENGTH) -> str:
        value = self.data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise BadSubmission(f"The card sent `{key}` in a form I can't read. Type `help` for a fresh card.")
        value = value.strip()
        if required and not value:
            raise BadSubmission(f"The card is missing `{key}`. Type `help` for a fresh card.")
        if len(value) > max_length:
            raise BadSubmission(f"`{key}` is too long (at most {max_length} characters).")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in options:
            raise BadSubmission(f"The card sent an unknown `{key}`. Type `help` for a fresh card.")
        return value

    def number(self, key: str, default: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100_000:
            raise BadSubmission(f"The card sent an invalid `{key}`. Type `help` for a fresh card.")
        return value

    def state(self, key: str = "expected_state") -> DeviceState:
        value = self.choice(key, tuple(s.value for s in DeviceState))
        return DeviceState(value)


@dataclass(frozen=True)
class SubmitAction:
    name: str
    admin_only: bool
    handler: SubmitHandler


class SubmissionRegistry:
    def __init__(self) -> None:
        self._actions: dict[str, SubmitAction] = {}

    def action(self, name: str, *, admin_only: bool = True) -> Callable[[SubmitHandler], SubmitHandler]:
        if name not in a.ALL_ACTIONS:
            raise ValueError(f"{name!r} is not an action the cards send")

        def register(handler: SubmitHandler) -> SubmitHandler:
            self._actions[name] = SubmitAction(name, admin_only, handler)
            return handler

        return register

    async def dispatch(self, turn: ChatTurn, value: dict[str, Any], runtime: Runtime) -> None:
        name = value.get("action")
        card_id = value.get("card_id")
        found = self._actions.get(name) if isinstance(name, str) else None
        if found is None:
            log.warning("unknown card action %r from %s in tenant %s", str(name)[:40], turn.speaker.user_id, turn.tenant_id)
            await turn.say("I don't recognize that card's button. Type `help` for the current cards.")
            return
        if found.admin_only and not turn.is_admin:
            log.warning("refused card action %s for %s (%s) in tenant %s: not an admin",
                        found.name, turn.speaker.user_id, turn.speaker.name, turn.tenant_id)
            await turn.say("You're not authorized to do that: only provisioning admins may. "
                           f"Ask the bot's operator to add your user id `{turn.speaker.user_id}` to ADMINS.")
            return
        log.info("card action %s by %s (%s) in tenant %s", found.name, turn.speaker.user_id, turn.speaker.name, turn.tenant_id)
        submission = Submission(found.name, card_id if isinstance(card_id, str) else "", value)
        try:
            await found.handler(turn, submission, runtime)
        except BadSubmission as bad:
            await turn.say(bad.message)
        except ProvisioningError as refusal:
            await turn.say(refusal.message)


SUBMISSIONS = SubmissionRegistry()


def submitted_mac(submission: Submission) -> str:
    return parse_mac(submission.text("mac", max_length=64))


@SUBMISSIONS.action(a.SHOW_HELP, admin_only=False)
async def _show_help(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    visible = [command_help(c) for c in COMMANDS.visible_to(turn.is_admin)]
    await turn.show(cards.help_card(visible, new_card_id()))


@SUBMISSIONS.action(a.SHOW_ADD_FORM)
async def _show_add_form(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    await inventory.show_add_form(turn, runtime)


@SUBMISSIONS.action(a.ADD_DEVICE)
async def _add_device(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    mac_text = submission.text("mac", required=False, max_length=64)
    location = submission.text("location", required=False, max_length=MAX_FIELD_LENGTH)
    memory = CardMemory(runtime.store, runtime.clock)
    try:
        record = await memory.claim(turn.tenant_id, submission.card_id, inventory.PURPOSE_ADD_FORM,
                                    conversation_id=turn.conversation_id)
    except CardNotOpen as closed:
        await turn.say(closed_message(closed, "Type `add` for a new form."))
        return
    try:
        if not mac_text:
            raise ProvisioningError("Enter the device's MAC ID.")
        device = await inventory.add_device(turn, runtime, mac_text, location)
    except ProvisioningError as refusal:
        await memory.release(turn.tenant_id, record)
        form = cards.add_device_form(record.card_id, MAC_INPUT_REGEX, error=refusal.message, mac=mac_text, location=location)
        await inventory.answer_card(turn, record, form)
        return
    except Exception:
        await memory.release(turn.tenant_id, record)  # nothing was added: the form may be sent again
        raise
    await inventory.answer_card(turn, record, cards.device_added_card(device, new_card_id()))


@SUBMISSIONS.action(a.LIST_DEVICES)
async def _list_devices(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    if "tab" not in submission.data:
        await inventory.show_list(turn, runtime, None, 1)
        return
    tab = submission.choice("tab", a.TABS)
    await inventory.show_list(turn, runtime, tab, submission.number("page", 1))


@SUBMISSIONS.action(a.ISSUE_CODE)
async def _issue_code(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    await inventory.issue_code(turn, runtime, submitted_mac(submission), submission.state(),
                               submission.text("code_issued_at", required=False, max_length=64))


@SUBMISSIONS.action(a.ISSUE_ALL_CODES)
async def _issue_all_codes(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    await inventory.issue_all_codes(turn, runtime)


@SUBMISSIONS.action(a.SHOW_CODES)
async def _show_codes(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    await inventory.show_codes(turn, runtime, submission.number("page", 1))


@SUBMISSIONS.action(a.SHOW_STATUS)
async def _show_status(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    await inventory.show_status(turn, runtime, submitted_mac(submission))


@SUBMISSIONS.action(a.SHOW_FIRMWARE)
async def _show_firmware(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    await turn.show(cards.firmware_catalog_card(runtime.catalog.entries))


@SUBMISSIONS.action(a.REMOVE_REQUEST)
async def _remove_request(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    await inventory.ask_remove(turn, runtime, submitted_mac(submission))


@SUBMISSIONS.action(a.REMOVE_CONFIRM)
async def _remove_confirm(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    mac = submitted_mac(submission)
    expected = submission.state()
    try:
        record = await CardMemory(runtime.store, runtime.clock).claim(
            turn.tenant_id, submission.card_id, inventory.PURPOSE_CONFIRM_REMOVE, mac, conversation_id=turn.conversation_id)
    except CardNotOpen as closed:
        await turn.say(closed_message(closed, f"Type `remove {mac}` to ask again."))
        return
    try:
        await runtime.service.remove_device(turn.tenant_id, turn.actor, mac, expected_state=expected)
    except ProvisioningError as refusal:
        await inventory.answer_card(turn, record, cards.resolved_card("Nothing was removed", refusal.message))
        return
    await inventory.answer_card(turn, record, cards.resolved_card("Device removed", f"{mac} was removed."))


@SUBMISSIONS.action(a.REMOVE_CANCEL)
async def _remove_cancel(turn: ChatTurn, submission: Submission, runtime: Runtime) -> None:
    mac = submitted_mac(submission)
    try:
        record = await CardMemory(runtime.store, runtime.clock).claim(
            turn.tenant_id, submission.card_id, inventory.PURPOSE_CONFIRM_REMOVE, mac, conversation_id=turn.conversation_id)
    except CardNotOpen as closed:
        await turn.say(closed_message(closed, "Nothing was changed."))
        return
    await inventory.answer_card(turn, record, cards.resolved_card("Cancelled", f"{mac} was not removed."))


def closed_message(closed: CardNotOpen, next_step: str) -> str:
    if closed.used:
        return f"That card was already used, so this click did nothing. {next_step}"
    return f"That card is not one I can act on (it may be from another conversation or too old). {next_step}"
