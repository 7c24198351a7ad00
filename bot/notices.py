"""Telling the admin what a device did, as it happens (proactive messages).

When an admin issues a code or starts a sign-in, the chat saves that conversation's
reference for the device (and as the tenant's latest). When the device then provisions,
gets locked out, signs in or is factory reset, the notifier posts to that conversation.
A send that fails is logged and retried with growing delays; one that fails every time
is logged as an error with the device and the event, never dropped silently.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from bot.chat.markdown import literal
from bot.chat.turn import ChatTurn
from provisioning.devices import Device
from provisioning.service import ProvisioningService

log = logging.getLogger(__name__)

LATEST = "latest"  # the tenant's most recent admin conversation


class NoticeSender(Protocol):
    """Posts markdown text into a saved conversation; raises if it could not."""

    async def send(self, reference: dict[str, Any], text: str) -> None: ...


class Notifier:
    def __init__(self, sender: NoticeSender, service: ProvisioningService, retry_delays: Sequence[float]) -> None:
        self._sender = sender
        self._service = service
        self._retry_delays = tuple(retry_delays)
        self._pending: set[asyncio.Task[None]] = set()

    async def follow(self, turn: ChatTurn, macs: Sequence[str]) -> None:
        """Tell this conversation what these devices do next (it also becomes the tenant's latest)."""
        await self._service.save_conversation(turn.tenant_id, [*macs, LATEST], turn.conversation_reference())

    def device_provisioned(self, device: Device) -> None:
        # Model, maker and firmware are whatever the device reported: plain text, never markdown.
        hardware = literal(" ".join(p for p in (device.manufacturer, device.model) if p) or "unknown model")
        self._post(device, f"**{device.mac}** ({_where(device)}) was provisioned: {hardware}, firmware "
                           f"{literal(device.firmware or '?')}. It is now *Waiting for sign in*: type "
                           f"`signin {device.mac}` to sign it in.")

    def device_locked(self, device: Device) -> None:
        self._post(device, f"**{device.mac}** ({_where(device)}) is locked after too many wrong verification codes. "
                           f"If that was your technician, issue a new code with `code {device.mac}`.")

    def device_signed_in(self, device: Device) -> None:
        self._post(device, f"**{device.mac}** ({_where(device)}) is signed in as {device.account}. "
                           "Remote provisioning is now off for it until it is factory reset.")

    def device_reset(self, device: Device) -> None:
        self._post(device, f"**{device.mac}** ({_where(device)}) was factory reset and is back in "
                           f"*Waiting on activation*. Issue a new code with `code {device.mac}` to provision it again.")

    def _post(self, device: Device, text: str) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(device.tenant_id, device.mac, text))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, tenant_id: str, mac: str, text: str) -> None:
        service = self._service
        doc = service.conversation(tenant_id, mac) or service.conversation(tenant_id, LATEST)
        if doc is None:
            log.warning("no admin conversation saved for tenant %s: could not tell about %s: %s", tenant_id, mac, text)
            return
        attempts = len(self._retry_delays) + 1
        for attempt, delay in enumerate((0.0, *self._retry_delays), start=1):
            if delay:
                await asyncio.sleep(delay)
            failure = await self._send_once(doc, text)
            if failure is None:
                return
            log.warning("notice about %s (tenant %s) failed, attempt %d of %d: %s",
                        mac, tenant_id, attempt, attempts, failure)
        log.error("gave up telling tenant %s about %s after %d attempts; the notice was: %s",
                  tenant_id, mac, attempts, text)

    async def _send_once(self, reference: dict[str, Any], text: str) -> str | None:
        try:
            await self._sender.send(reference, text)
        except Exception as error:  # any failure is retried, then logged: never a lost notice unsaid
            return f"{type(error).__name__}: {error}"[:300]
        return None

    async def drain(self, timeout: float) -> None:
        """Give pending notices a moment to finish at shutdown; log what is abandoned."""
        if not self._pending:
            return
        _, pending = await asyncio.wait(set(self._pending), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.error("shutting down with %d device notice(s) unsent", len(pending))


def _where(device: Device) -> str:
    return literal(device.location) if device.location else "no location"
