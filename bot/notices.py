"""Telling the admin what a device did, as it happens (proactive messages).

When an admin issues a code or starts a sign-in, the chat saves that conversation's
reference for the device (and as the tenant's latest). When the device then provisions,
gets locked out, signs in, asks for a new sign-in code (with the sign-in card) or is
factory reset, or an admin signs it out or moves it to another account, the notifier
posts to that conversation.
A send that fails is logged and retried with growing delays; one that fails every time
is logged as an error with the device and the event, never dropped silently.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from bot.chat.markdown import literal
from bot.chat.turn import Card, ChatTurn
from provisioning.devices import Device
from provisioning.service import ProvisioningService

log = logging.getLogger(__name__)

LATEST = "latest"  # the tenant's most recent admin conversation


class NoticeSender(Protocol):
    """Posts markdown text (and a card, if given) into a saved conversation; raises if it could not."""

    async def send(self, reference: dict[str, Any], text: str, card: Card | None = None) -> None: ...


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

    def device_signed_out(self, device: Device, account: str | None, by: str) -> None:
        was = f" of {literal(account)}" if account else ""
        self._post(device, f"**{device.mac}** ({_where(device)}) was signed out{was} by {literal(by)}. It keeps its "
                           f"provisioning and is *Waiting for sign in*: type `signin {device.mac}` to sign an "
                           "account in again (no factory reset needed).", reference=self.told_in(device))

    def account_changed(self, device: Device, old: str | None, new: str, by: str) -> None:
        """Said where the old account's sign-in was done (captured now: the new sign-in's
        conversation may take the device over right after)."""
        self._post(device, f"**{device.mac}** ({_where(device)}): {literal(by)} signed out "
                           f"{literal(old or 'its account')} to sign in {literal(new)}. The device shows a new "
                           "sign-in code, approved on the sign-in card.", reference=self.told_in(device))

    def sign_in_requested(self, device: Device, card: Card, reference: dict[str, Any] | None) -> None:
        """The device asked for a new sign-in code; `card` is its sign-in card, for `reference`."""
        self._post(device, f"**{device.mac}** ({_where(device)}) asked for a new sign-in code (its last one "
                           "expired or was cancelled). Check the code on its screen, then approve the account "
                           "on this card.", card=card, reference=reference)

    def told_in(self, device: Device) -> dict[str, Any] | None:
        """The saved conversation a notice about `device` goes to now (its own, else the latest)."""
        service = self._service
        return service.conversation(device.tenant_id, device.mac) or service.conversation(device.tenant_id, LATEST)

    def _post(self, device: Device, text: str, card: Card | None = None,
              reference: dict[str, Any] | None = None) -> None:
        task = asyncio.get_running_loop().create_task(
            self._deliver(device.tenant_id, device.mac, text, card, reference))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, tenant_id: str, mac: str, text: str, card: Card | None = None,
                       reference: dict[str, Any] | None = None) -> None:
        service = self._service
        doc = reference or service.conversation(tenant_id, mac) or service.conversation(tenant_id, LATEST)
        if doc is None:
            log.warning("no admin conversation saved for tenant %s: could not tell about %s: %s", tenant_id, mac, text)
            return
        attempts = len(self._retry_delays) + 1
        for attempt, delay in enumerate((0.0, *self._retry_delays), start=1):
            if delay:
                await asyncio.sleep(delay)
            failure = await self._send_once(doc, text, card)
            if failure is None:
                return
            log.warning("notice about %s (tenant %s) failed, attempt %d of %d: %s",
                        mac, tenant_id, attempt, attempts, failure)
        log.error("gave up telling tenant %s about %s after %d attempts; the notice was: %s",
                  tenant_id, mac, attempts, text)

    async def _send_once(self, reference: dict[str, Any], text: str, card: Card | None = None) -> str | None:
        try:
            await self._sender.send(reference, text, card)
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


def conversation_id_of(reference: dict[str, Any]) -> str | None:
    """The conversation id in a saved conversation reference (Bot Framework's serialized form)."""
    conversation = reference.get("conversation")
    found = conversation.get("id") if isinstance(conversation, dict) else None
    return found if isinstance(found, str) else None


def _where(device: Device) -> str:
    return literal(device.location) if device.location else "no location"
