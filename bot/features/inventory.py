"""Devices: add (typed or with the form), list by tab, show one, remove after a
confirmation, the firmware catalog and the tenant name devices show.

Typed commands parse their arguments into plain values and card buttons read theirs
through `Submission`; both then call the same flow, so a rule is applied the same way
whichever path the admin took.
"""
from __future__ import annotations

import cards
from bot.chat.interactions import CommandCall, Feature, Refused, UsageError, card_action, command
from bot.chat.markdown import code, literal
from bot.chat.paging import page_count, typed_page
from bot.chat.single_use import CardNotOpen, SingleUseCards, answer_card, closed_message
from bot.chat.submission import MAX_FIELD_LENGTH, Submission
from bot.chat.turn import ChatTurn, new_card_id
from cards import actions as a
from cards.tabs import TAB_STATES
from provisioning.clock import Clock
from provisioning.errors import ProvisioningError
from provisioning.firmware import Catalog
from provisioning.mac import MAC_INPUT_REGEX
from provisioning.service import ProvisioningService

PURPOSE_ADD_FORM = "add_form"
PURPOSE_CONFIRM_REMOVE = "confirm_remove"
TAB_WORDS = "|".join(a.TABS)


class Inventory(Feature):
    title = "Devices"

    def __init__(self, service: ProvisioningService, single_use: SingleUseCards, catalog: Catalog,
                 clock: Clock) -> None:
        self._service = service
        self._single_use = single_use
        self._catalog = catalog
        self._clock = clock

    # --- add ----------------------------------------------------------------------------

    @command("add", summary="Add a device by MAC ID, with where it is installed.", usage="add <MAC> [location ...]",
             menu_rank=2)
    async def add(self, turn: ChatTurn, call: CommandCall) -> None:
        mac_text, _, location = call.raw_args.partition(" ")
        mac_text = mac_text.strip('"')
        if not mac_text:
            await self.show_add_form(turn)
            return
        device = await self._service.add_device(turn.tenant_id, turn.actor, mac_text, location.strip().strip('"'))
        await turn.show(cards.device_added_card(device, new_card_id()))

    @card_action(a.SHOW_ADD_FORM)
    async def add_form_button(self, turn: ChatTurn, submission: Submission) -> None:
        await self.show_add_form(turn)

    async def show_add_form(self, turn: ChatTurn) -> None:
        card_id = new_card_id()
        await self._single_use.send(turn, cards.add_device_form(card_id, MAC_INPUT_REGEX), card_id, PURPOSE_ADD_FORM)

    @card_action(a.ADD_DEVICE)
    async def add_form_submitted(self, turn: ChatTurn, submission: Submission) -> None:
        mac_text = submission.text("mac", required=False, max_length=64)
        location = submission.text("location", required=False, max_length=MAX_FIELD_LENGTH)
        try:
            record = await self._single_use.claim(turn.tenant_id, submission.card_id, PURPOSE_ADD_FORM,
                                                  conversation_id=turn.conversation_id)
        except CardNotOpen as closed:
            await turn.say(closed_message(closed, "Type `add` for a new form."))
            return
        try:
            if not mac_text:
                raise ProvisioningError("Enter the device's MAC ID.")
            device = await self._service.add_device(turn.tenant_id, turn.actor, mac_text, location)
        except ProvisioningError as refusal:
            await self._single_use.release(turn.tenant_id, record)
            form = cards.add_device_form(record.card_id, MAC_INPUT_REGEX, error=refusal.message, mac=mac_text,
                                         location=location)
            await answer_card(turn, record, form)
            return
        except Exception:
            await self._single_use.release(turn.tenant_id, record)  # nothing was added: the form may be sent again
            raise
        await answer_card(turn, record, cards.device_added_card(device, new_card_id()))

    # --- list and status ----------------------------------------------------------------

    @command("list", summary="List devices by tab: waiting, signin, signedin or all.",
             usage=f"list [{TAB_WORDS}] [page N]", menu_rank=3)
    async def list(self, turn: ChatTurn, call: CommandCall) -> None:
        args = [word.lower() for word in call.expect(0, 3)]
        tab = None
        if args and args[0] != "page":
            tab = args.pop(0)
            if tab not in a.TABS:
                raise UsageError(f"{code(call.args[0][:20])} is not a tab; use one of {TAB_WORDS.replace('|', ', ')}.",
                                 call.command)
        page = typed_page(args, call)
        if tab is None and page != 1:
            tab = a.TAB_WAITING
        await self.show_list(turn, tab, page)

    @card_action(a.LIST_DEVICES)
    async def list_button(self, turn: ChatTurn, submission: Submission) -> None:
        if "tab" not in submission.data:
            await self.show_list(turn, None, 1)
            return
        await self.show_list(turn, submission.choice("tab", a.TABS), submission.page())

    async def show_list(self, turn: ChatTurn, tab: str | None, page: int) -> None:
        now = self._clock.now()
        per_page = cards.DEVICE_ROWS_PER_PAGE
        if tab is None:
            waiting = await self._service.sorted_devices(turn.tenant_id, TAB_STATES[a.TAB_WAITING])
            counts = self._service.counts(turn.tenant_id)  # after the await: as the list shows them
            await turn.show(cards.summary_card(counts, waiting[:per_page], now, new_card_id(),
                                               page_count(len(waiting), per_page), reveal_codes=turn.is_private))
            return
        devices = await self._service.sorted_devices(turn.tenant_id, TAB_STATES[tab])
        counts = self._service.counts(turn.tenant_id)
        pages = page_count(len(devices), per_page)
        if page > pages:
            raise Refused(f"There is no page {page}: the list has {pages} page(s). "
                                    f"Try `list {tab} page {pages}`.")
        chunk = devices[(page - 1) * per_page: page * per_page]
        await turn.show(cards.device_table_card(tab, chunk, page, pages, counts, now, new_card_id(),
                                                reveal_codes=turn.is_private))

    @command("status", summary="Show one device: state, location, firmware, code and history.",
             usage="status <MAC>", menu_rank=9)
    async def status(self, turn: ChatTurn, call: CommandCall) -> None:
        (mac_text,) = call.expect(1, 1)
        await self.show_status(turn, mac_text)

    @card_action(a.SHOW_STATUS)
    async def status_button(self, turn: ChatTurn, submission: Submission) -> None:
        await self.show_status(turn, submission.mac)

    async def show_status(self, turn: ChatTurn, mac_text: str) -> None:
        device = self._service.get_device(turn.tenant_id, mac_text)
        await turn.show(cards.device_status_card(device, self._clock.now(), new_card_id(),
                                                 reveal_codes=turn.is_private))

    # --- remove -------------------------------------------------------------------------

    @command("remove", summary="Remove a device (asks for confirmation).", usage="remove <MAC>", menu_rank=12)
    async def remove(self, turn: ChatTurn, call: CommandCall) -> None:
        (mac_text,) = call.expect(1, 1)
        await self.ask_remove(turn, mac_text)

    @card_action(a.REMOVE_REQUEST)
    async def remove_button(self, turn: ChatTurn, submission: Submission) -> None:
        await self.ask_remove(turn, submission.mac)

    async def ask_remove(self, turn: ChatTurn, mac_text: str) -> None:
        device = self._service.get_device(turn.tenant_id, mac_text)
        card_id = new_card_id()
        await self._single_use.send(turn, cards.confirm_remove_card(device, card_id), card_id,
                                    PURPOSE_CONFIRM_REMOVE, device.mac)

    @card_action(a.REMOVE_CONFIRM)
    async def remove_confirmed(self, turn: ChatTurn, submission: Submission) -> None:
        mac = submission.mac
        expected = submission.state()
        try:
            record = await self._single_use.claim(turn.tenant_id, submission.card_id, PURPOSE_CONFIRM_REMOVE, mac,
                                                  conversation_id=turn.conversation_id)
        except CardNotOpen as closed:
            await turn.say(closed_message(closed, f"Type `remove {mac}` to ask again."))
            return
        try:
            await self._service.remove_device(turn.tenant_id, turn.actor, mac, expected_state=expected)
        except ProvisioningError as refusal:
            await answer_card(turn, record, cards.resolved_card("Nothing was removed", refusal.message))
            return
        await answer_card(turn, record, cards.resolved_card("Device removed", f"{mac} was removed."))

    @card_action(a.REMOVE_CANCEL)
    async def remove_cancelled(self, turn: ChatTurn, submission: Submission) -> None:
        mac = submission.mac
        try:
            record = await self._single_use.claim(turn.tenant_id, submission.card_id, PURPOSE_CONFIRM_REMOVE, mac,
                                                  conversation_id=turn.conversation_id)
        except CardNotOpen as closed:
            await turn.say(closed_message(closed, "Nothing was changed."))
            return
        await answer_card(turn, record, cards.resolved_card("Cancelled", f"{mac} was not removed."))

    # --- catalog and tenant -------------------------------------------------------------

    @command("firmware", summary="Show the supported devices, or check a model's firmware.",
             usage="firmware [<model> <version>]", menu_rank=13)
    async def firmware(self, turn: ChatTurn, call: CommandCall) -> None:
        if not call.args:
            await turn.show(cards.firmware_catalog_card(self._catalog.entries))
            return
        if len(call.args) < 2:
            raise UsageError("Give both the model and the firmware version.", call.command)
        *model_words, version = call.args
        await turn.show(cards.firmware_check_card(self._catalog.check(" ".join(model_words), version)))

    @card_action(a.SHOW_FIRMWARE)
    async def firmware_button(self, turn: ChatTurn, submission: Submission) -> None:
        await turn.show(cards.firmware_catalog_card(self._catalog.entries))

    @command("tenant", summary="Show or set the tenant name devices show after provisioning.",
             usage="tenant [name ...]", menu_rank=14)
    async def tenant(self, turn: ChatTurn, call: CommandCall) -> None:
        name = call.raw_args.strip().strip('"').strip()
        if name:
            await self._service.set_tenant_name(turn.tenant_id, turn.actor, name)
            await turn.say(f"Devices provisioned from now on show **{literal(name)}** on their sign-in page.")
            return
        await turn.say(f"Devices show **{literal(self._service.tenant_name(turn.tenant_id) or '')}** on their "
                       "sign-in page. Change it with `tenant <name>`.")

