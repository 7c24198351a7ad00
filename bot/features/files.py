"""Files: `template`, `upload` (how to), `export` (the technician file), and the two
ways files arrive: a message carrying files (an upload) and an answer to a file offer.

Export holds verification codes, so it runs in one-to-one chats only.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence

import cards
from bot.chat.interactions import (
    CommandCall,
    Feature,
    UsageError,
    answers_file_consent,
    card_action,
    command,
    receives_files,
)
from bot.chat.markdown import code
from bot.chat.submission import Submission
from bot.chat.turn import ChatTurn, ConsentAnswer, IncomingFile, new_card_id
from bot.files.csvfile import export_csv, template_csv
from bot.files.delivery import FileDesk, FileOffer
from bot.files.upload import Importer
from cards import actions as a
from provisioning.clock import Clock
from provisioning.devices import DeviceState
from provisioning.service import ProvisioningService

EXPORT_WORDS = "|".join(a.EXPORT_TABS)
EXPORT_SECRET = "The technician file's verification codes"


class Files(Feature):
    title = "Files"

    def __init__(self, service: ProvisioningService, desk: FileDesk, importer: Importer, clock: Clock) -> None:
        self._service = service
        self._desk = desk
        self._importer = importer
        self._clock = clock

    @command("template", summary="Get the CSV template for uploading MAC IDs.", usage="template", menu_rank=11)
    async def template(self, turn: ChatTurn, call: CommandCall) -> None:
        call.expect(0, 0)
        await self.send_template(turn)

    @card_action(a.TEMPLATE)
    async def template_button(self, turn: ChatTurn, submission: Submission) -> None:
        await self.send_template(turn)

    async def send_template(self, turn: ChatTurn) -> None:
        await self._desk.deliver(turn, FileOffer(
            cards.TEMPLATE_FILE_NAME, template_csv(), "Upload template",
            "The template for uploading MAC IDs: one device per row, MAC id and Location."))

    @command("upload", summary="How to add many devices at once: send a CSV file of MAC IDs.",
             usage="upload (then send the file as an attachment)", menu_rank=10)
    async def upload(self, turn: ChatTurn, call: CommandCall) -> None:
        await self.show_upload_help(turn)

    @card_action(a.SHOW_UPLOAD)
    async def upload_button(self, turn: ChatTurn, submission: Submission) -> None:
        await self.show_upload_help(turn)

    async def show_upload_help(self, turn: ChatTurn) -> None:
        max_mb = max(1, self._importer.max_upload_bytes // (1024 * 1024))
        await turn.show(cards.upload_help_card(new_card_id(), max_mb))

    @receives_files()
    async def files_received(self, turn: ChatTurn, files: Sequence[IncomingFile]) -> None:
        await self._importer.receive(turn, files)

    @command("export", summary="Get the technician file: MAC IDs, locations and verification codes.",
             usage=f"export [{EXPORT_WORDS}]", menu_rank=6, secret=EXPORT_SECRET)
    async def export(self, turn: ChatTurn, call: CommandCall) -> None:
        args = [word.lower() for word in call.expect(0, 1)]
        tab = args[0] if args else a.TAB_WAITING
        if tab not in a.EXPORT_TABS:
            raise UsageError(f"{code(call.args[0][:20])} is not something I export; use one of "
                             f"{EXPORT_WORDS.replace('|', ', ')}.", call.command)
        await self.send_export(turn, tab)

    @card_action(a.EXPORT, secret=EXPORT_SECRET)
    async def export_button(self, turn: ChatTurn, submission: Submission) -> None:
        tab = submission.choice("tab", a.EXPORT_TABS) if "tab" in submission.data else a.TAB_WAITING
        await self.send_export(turn, tab)

    async def send_export(self, turn: ChatTurn, tab: str) -> None:
        """The technician file for one tab: MAC id, location, code, expiry, state."""
        label = cards.TAB_LABELS[tab]
        states = cards.TAB_STATES[tab]
        devices = await self._service.sorted_devices(turn.tenant_id, states)  # sorted off the loop
        if not devices:
            await turn.say(f"There are no devices in *{label}*, so there is nothing to export. "
                           "Add devices with `add` or `upload` first.")
            return
        now = self._clock.now()

        def made() -> tuple[bytes, int]:  # thousands of rows: off the event loop
            without_code = sum(1 for d in devices
                               if d.state is DeviceState.WAITING_ON_ACTIVATION and not d.has_usable_code(now))
            return export_csv(devices, now), without_code

        content, without_code = await asyncio.to_thread(made)
        if without_code:
            await turn.say(f"{without_code} device(s) waiting on activation have no valid verification code, so "
                           "their code cell is empty. Type `code all` first if the technician needs them.")
        name = f"Provisioning_{tab}_{now:%Y%m%d-%H%M}.csv"
        await self._desk.deliver(turn, FileOffer(
            name, content, f"Technician file: {label}",
            f"{len(devices)} device(s) with MAC id, location, verification code and its expiry (UTC)."))

    @answers_file_consent()
    async def file_offer_answered(self, turn: ChatTurn, answer: ConsentAnswer) -> None:
        if answer.accepted:
            await self._desk.accepted(turn, answer)
        else:
            await self._desk.declined(turn, answer)
