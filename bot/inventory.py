"""The admin's provisioning steps as chat flows, shared by typed commands and cards.

Each flow takes already-parsed input, calls the provisioning service once, and answers
with a card or text that says what changed and what to do next. Typed commands
(`inventory_commands.py`) and card submissions (`submissions.py`) both land here, so a
rule is applied the same way whichever path the admin took.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import cards
from bot.card_memory import CardMemory, CardRecord
from bot.chat import ChatTurn, new_card_id
from bot.notifications import LATEST, reference_doc
from bot.runtime import Runtime
from cards.tabs import TAB_STATES
from provisioning.devices import Device, DeviceState
from provisioning.errors import ProvisioningError
from provisioning.mac import MAC_INPUT_REGEX
from provisioning.service import AsShown

PURPOSE_ADD_FORM = "add_form"
PURPOSE_CONFIRM_REMOVE = "confirm_remove"


async def send_single_use(turn: ChatTurn, runtime: Runtime, card: dict, card_id: str, purpose: str,
                          subject: str | None = None) -> None:
    """Send a card that may be submitted once, and remember it for that check."""
    activity_id = await turn.show(card)
    memory = CardMemory(runtime.store, runtime.clock)
    record = memory.new_record(card_id, purpose, activity_id, turn.conversation_id, subject)
    await memory.remember(turn.tenant_id, record)


async def answer_card(turn: ChatTurn, record: CardRecord | None, card: dict) -> None:
    """Replace the submitted card in place when the channel allows; else send anew."""
    target = turn.activity.reply_to_id or (record.activity_id if record else None)
    if target and await turn.replace(target, card):
        return
    await turn.show(card)


async def remember_conversation(turn: ChatTurn, runtime: Runtime, macs: Sequence[str]) -> None:
    """Where to tell the admin what these devices do next (and the tenant's latest)."""
    await runtime.service.save_conversation(turn.tenant_id, [*macs, LATEST], reference_doc(turn.activity))


async def show_add_form(turn: ChatTurn, runtime: Runtime) -> None:
    card_id = new_card_id()
    await send_single_use(turn, runtime, cards.add_device_form(card_id, MAC_INPUT_REGEX), card_id, PURPOSE_ADD_FORM)


async def add_device(turn: ChatTurn, runtime: Runtime, mac_text: str, location: str) -> Device:
    """Add one device and say what to do next. Raises ProvisioningError to refuse."""
    return await runtime.service.add_device(turn.tenant_id, turn.actor, mac_text, location)


async def report_added(turn: ChatTurn, device: Device) -> None:
    await turn.show(cards.device_added_card(device, new_card_id()))


async def show_list(turn: ChatTurn, runtime: Runtime, tab: str | None, page: int) -> None:
    service = runtime.service
    counts = service.counts(turn.tenant_id)
    now = runtime.clock.now()
    per_page = cards.DEVICE_ROWS_PER_PAGE
    if tab is None:
        waiting = service.list_devices(turn.tenant_id, DeviceState.WAITING_ON_ACTIVATION)
        await turn.show(cards.summary_card(counts, waiting[:per_page], now, new_card_id(), _pages(len(waiting), per_page),
                                           reveal_codes=turn.is_private))
        return
    devices = [d for d in service.list_devices(turn.tenant_id, None) if d.state in TAB_STATES[tab]]
    page_count = _pages(len(devices), per_page)
    if page > page_count:
        raise ProvisioningError(f"There is no page {page}: the list has {page_count} page(s). "
                                f"Try `list {tab} page {page_count}`.")
    chunk = devices[(page - 1) * per_page: page * per_page]
    await turn.show(cards.device_table_card(tab, chunk, page, page_count, counts, now, new_card_id(),
                                            reveal_codes=turn.is_private))


def _pages(count: int, per_page: int) -> int:
    return max(1, math.ceil(count / per_page))


async def issue_code(turn: ChatTurn, runtime: Runtime, mac_text: str, expected_state: DeviceState | None = None,
                     shown_code_issued_at: str | None = None) -> None:
    """Issue a code; from a card, only if the device still is as the card showed it (its state
    and when its current code, if any, was issued), so a second click can't void a code."""
    turn.require_private("Verification codes")
    as_shown = AsShown(expected_state, shown_code_issued_at) if expected_state is not None else None
    device = await runtime.service.issue_code(turn.tenant_id, turn.actor, mac_text, as_shown=as_shown)
    await remember_conversation(turn, runtime, [device.mac])
    await turn.show(cards.code_issued_card(device, runtime.clock.now(), new_card_id()))


async def issue_all_codes(turn: ChatTurn, runtime: Runtime) -> None:
    turn.require_private("Verification codes")
    devices = await runtime.service.issue_codes_for_all(turn.tenant_id, turn.actor)
    await remember_conversation(turn, runtime, [])
    if not devices:
        await turn.say("Every device waiting on activation already has a valid code (or there are none). "
                       "Type `codes` to see them, or `add <MAC> [location]` to add devices.")
        return
    await turn.show(cards.codes_issued_card(devices, runtime.clock.now(), new_card_id()))


async def show_codes(turn: ChatTurn, runtime: Runtime, page: int = 1) -> None:
    turn.require_private("Verification codes")
    devices = runtime.service.valid_codes(turn.tenant_id)
    per_page = cards.CODE_ROWS_PER_PAGE
    page_count = _pages(len(devices), per_page)
    if page > page_count:
        raise ProvisioningError(f"There is no page {page}: the codes fill {page_count} page(s). "
                                f"Try `codes page {page_count}`.")
    chunk = devices[(page - 1) * per_page: page * per_page]
    await turn.show(cards.codes_card(chunk, runtime.clock.now(), new_card_id(), page=page, page_count=page_count))


async def show_status(turn: ChatTurn, runtime: Runtime, mac_text: str) -> None:
    device = runtime.service.get_device(turn.tenant_id, mac_text)
    await turn.show(cards.device_status_card(device, runtime.clock.now(), new_card_id(), reveal_codes=turn.is_private))


async def ask_remove(turn: ChatTurn, runtime: Runtime, mac_text: str) -> None:
    device = runtime.service.get_device(turn.tenant_id, mac_text)
    card_id = new_card_id()
    await send_single_use(turn, runtime, cards.confirm_remove_card(device, card_id), card_id, PURPOSE_CONFIRM_REMOVE, device.mac)

