"""`template`, `upload` (help) and `export` as chat flows, shared by typed commands and
card buttons."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import cards
from bot.chat import ChatTurn, new_card_id
from bot.files.csvfile import export_csv, template_csv
from bot.files.delivery import FileOffer, deliver_file
from cards.actions import TAB_WAITING
from provisioning.devices import DeviceState

if TYPE_CHECKING:
    from bot.runtime import Runtime


async def show_upload_help(turn: ChatTurn, runtime: Runtime) -> None:
    max_mb = max(1, runtime.settings.max_upload_bytes // (1024 * 1024))
    await turn.show(cards.upload_help_card(new_card_id(), max_mb))


async def send_template(turn: ChatTurn, runtime: Runtime) -> None:
    await deliver_file(turn, runtime, FileOffer(
        cards.TEMPLATE_FILE_NAME, template_csv(), "Upload template",
        "The template for uploading MAC IDs: one device per row, MAC id and Location."))


async def send_export(turn: ChatTurn, runtime: Runtime, tab: str = TAB_WAITING) -> None:
    """The technician file for one tab: MAC id, location, code, expiry, state."""
    turn.require_private("The technician file's verification codes")
    label = cards.TAB_LABELS[tab]
    states = cards.TAB_STATES[tab]
    devices = [d for d in runtime.service.list_devices(turn.tenant_id) if d.state in states]
    if not devices:
        await turn.say(f"There are no devices in *{label}*, so there is nothing to export. "
                       "Add devices with `add` or `upload` first.")
        return
    now = runtime.clock.now()
    without_code = sum(1 for d in devices if d.state is DeviceState.WAITING_ON_ACTIVATION and not d.has_usable_code(now))
    if without_code:
        await turn.say(f"{without_code} device(s) waiting on activation have no valid verification code, so their "
                       "code cell is empty. Type `code all` first if the technician needs them.")
    name = f"Provisioning_{tab}_{now:%Y%m%d-%H%M}.csv"
    content = await asyncio.to_thread(export_csv, devices, now)  # thousands of rows: off the event loop
    await deliver_file(turn, runtime, FileOffer(
        name, content, f"Technician file: {label}",
        f"{len(devices)} device(s) with MAC id, location, verification code and its expiry (UTC)."))
