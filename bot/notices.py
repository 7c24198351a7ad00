"""Telling the admin what a device did: digests from the durable outbox, paced for Teams.

When an admin issues a code or starts a sign-in, the chat saves that conversation's
reference for the device (and as the tenant's latest), `Notifier.follow`. When the device
then provisions, gets locked out, signs in or is factory reset, or an admin signs it out or
moves it to another account, the service that changes it commits a `DeviceEvent` to the
outbox in the same write as the change (`provisioning/outbox.py`); the handler only
`wake()`s this sender. A device asking for a new sign-in code gets its sign-in card sent
directly (`sign_in_requested`): that card is made for the grant of that moment.

The sender is one background task (`start` on app start-up, `drain` on cleanup):

- **Reading**: it scans the outbox (at most every `SCAN_SECONDS`, and when woken) and
  files each new entry under its conversation (the device's saved one, else the
  tenant's latest; with neither, the entry is logged and dropped).
- **Coalescing and pacing, per conversation**: a first notice waits `gather` seconds
  for company, then goes out (the admin sees it within a second); after a message, the
  next waits at least `interval` seconds (2 s: never more than one message per
  conversation every 2 s), and a sliding window keeps to Teams' 60 per 30 s and 1,800
  per hour besides (these bind only if `interval` is set below 2 s). What piled up
  meanwhile goes as one digest card (`cards.device_digest_card`, up to
  `DIGEST_MAX_DEVICES` devices each, every device named); a single notice is one line
  of text.
- **Settling**: delivered entries are deleted in one store commit per message. Delivery
  is at least once: a crash (or a stop cutting a send short) between the send and that
  commit repeats the message at the next start; nothing unsent is ever deleted.
- **Failures**: a 429 (`Throttled`) waits its `Retry-After`, else the next back-off
  step; any other failure waits the next back-off step (`retry_delays`). The notices
  stay in the outbox meanwhile. A conversation failing for `give_up_after` seconds
  without a success (counted since this process started trying) is given up: an error
  log names the tenant, the conversation and every device, and its entries are deleted.
- **Stopping**: `drain` stops the task, lets sends in flight finish for a moment, then
  cancels them (outbound calls are asyncio, so a cancel really stops them); whatever is
  unsent stays in the outbox for the next start.

A new kind of notice: see `provisioning/outbox.py`; its wording here is `_single_text`
(one event) and the digest card's labels (`cards/notices.py`).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cards
from bot.chat.markdown import literal
from bot.chat.turn import Card, ChatTurn, new_card_id
from provisioning.devices import Device
from provisioning.outbox import DeviceEvent, EventKind, Outbox, OutboxEntry
from provisioning.service import ProvisioningService

log = logging.getLogger(__name__)

LATEST = "latest"  # the tenant's most recent admin conversation
SCAN_SECONDS = 0.2  # the outbox is read at most this often (wakes within it are merged)
SCAN_LIMIT = 20_000  # entries read per tenant per scan; a larger backlog is read as it drains
TEAMS_WINDOWS = ((30.0, 60), (3600.0, 1800))  # Teams: 60 messages per 30 s, 1,800 per hour per conversation


class Throttled(Exception):
    """The channel answered 429: slow down, for `retry_after` seconds if it said."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__(f"throttled (Retry-After {retry_after if retry_after is not None else 'not given'})")
        self.retry_after = retry_after


class NoticeSender(Protocol):
    """Posts into a saved conversation, markdown text or a card; raises if it could not
    (`Throttled` for a 429)."""

    async def send(self, reference: dict[str, Any], text: str, card: Card | None = None) -> None: ...


@dataclass(frozen=True)
class Pacing:
    interval: float = 2.0  # NOTICE_INTERVAL_SECONDS: least time between two messages to one conversation
    gather: float = 0.3  # a first notice waits this long for others to join it
    give_up_after: float = 24 * 3600.0  # NOTICE_GIVE_UP_HOURS, in seconds
    retry_delays: tuple[float, ...] = (2.0, 10.0, 60.0, 300.0)  # after a failure; the last repeats
    windows: tuple[tuple[float, int], ...] = TEAMS_WINDOWS


@dataclass
class _Conversation:
    key: tuple[str, str]  # (tenant, service URL and conversation id)
    tenant_id: str
    conversation_id: str
    reference: dict[str, Any]
    entries: dict[str, OutboxEntry] = field(default_factory=dict)  # waiting, oldest first
    ready_at: float = 0.0  # monotonic time it may be sent to next
    sending: bool = False
    sent: deque[float] = field(default_factory=deque)  # send times within the longest window
    failures: int = 0
    failing_since: float | None = None


class Notifier:
    def __init__(self, sender: NoticeSender, service: ProvisioningService, outbox: Outbox, pacing: Pacing,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._sender = sender
        self._service = service
        self._outbox = outbox
        self._pacing = pacing
        self._now = monotonic
        self._conversations: dict[tuple[str, str], _Conversation] = {}
        self._filed: dict[str, _Conversation] = {}  # outbox key -> where it waits or is being sent
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.messages_sent = 0  # messages (texts or digests) delivered since start (tests, benchmarks)

    async def follow(self, turn: ChatTurn, macs: Sequence[str]) -> None:
        """Tell this conversation what these devices do next (it also becomes the tenant's latest)."""
        await self._service.save_conversation(turn.tenant_id, [*macs, LATEST], turn.conversation_reference())

    def wake(self) -> None:
        """Something was committed to the outbox: look soon."""
        self._woken.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="notice-sender")

    def told_in(self, device: Device) -> dict[str, Any] | None:
        """The saved conversation a notice about `device` goes to now (its own, else the latest)."""
        service = self._service
        return service.conversation(device.tenant_id, device.mac) or service.conversation(device.tenant_id, LATEST)

    def sign_in_requested(self, device: Device, card: Card, reference: dict[str, Any] | None) -> None:
        """The device asked for a new sign-in code: its sign-in card goes to `reference` now.

        Sent directly rather than through the outbox (the card is made for this moment's
        grant); a failed send is retried a few times and then logged as an error.
        """
        if reference is None:
            log.warning("no admin conversation saved for tenant %s: could not offer %s's new sign-in code",
                        device.tenant_id, device.mac)
            return
        text = (f"**{device.mac}** ({literal(device.location) if device.location else 'no location'}) asked for a "
                "new sign-in code (its last one expired or was cancelled). Check the code on its screen, then "
                "approve the account on this card.")
        task = asyncio.get_running_loop().create_task(self._send_directly(device, reference, text, card))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_directly(self, device: Device, reference: dict[str, Any], text: str, card: Card) -> None:
        for delay in (0.0, *self._pacing.retry_delays[:3]):
            await asyncio.sleep(delay)
            try:
                await self._sender.send(reference, text, card)
                return
            except Exception as error:  # retried, then logged: never dropped silently
                failure = f"{type(error).__name__}: {error}"[:300]
                log.warning("sign-in card for %s (tenant %s) failed: %s", device.mac, device.tenant_id, failure)
        log.error("gave up offering %s's new sign-in code to tenant %s", device.mac, device.tenant_id)

    async def drain(self, timeout: float) -> None:
        """Stop: let sends in flight finish within `timeout`, cancel the rest; unsent notices
        stay in the outbox for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sending:
            _, cut = await asyncio.wait(set(self._sending), timeout=timeout)
            for task in cut:
                task.cancel()
            if cut:
                await asyncio.wait(cut)
        if self._filed:
            log.warning("stopping with %d device notice(s) unsent; they stay in the outbox for the next start",
                        len(self._filed))

    # -- the task ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._woken.clear()
            try:
                await self._scan()
                wait = self._dispatch()
            except Exception:  # a bug here must not end notices for good
                log.exception("notice sender: scan failed; trying again")
                wait = 5.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._woken.wait()
            await asyncio.sleep(SCAN_SECONDS)  # merge the wakes of a burst into one scan

    async def _scan(self) -> None:
        unroutable: dict[str, list[OutboxEntry]] = {}
        for tenant_id in self._outbox.tenants():
            new = [e for e in self._outbox.pending(tenant_id, SCAN_LIMIT) if e.key not in self._filed]
            # With several instances on one database, each notice is sent by the one that claims it.
            claimed = await self._outbox.claim(tenant_id, new)
            now = self._now()
            for entry in claimed:
                if entry.key in self._filed:
                    continue
                conversation = self._conversation_of(entry.event, now)
                if conversation is None:
                    unroutable.setdefault(tenant_id, []).append(entry)
                    continue
                conversation.entries[entry.key] = entry
                self._filed[entry.key] = conversation
        for tenant_id, entries in unroutable.items():
            log.warning("no admin conversation saved for tenant %s: could not tell about %s", tenant_id,
                        ", ".join(f"{e.event.mac} ({e.event.kind.value})" for e in entries[:50]))
            self._settle_later(tenant_id, entries)

    def _conversation_of(self, event: DeviceEvent, now: float) -> _Conversation | None:
        service = self._service
        reference = (event.told_in or service.conversation(event.tenant_id, event.mac)
                     or service.conversation(event.tenant_id, LATEST))
        if reference is None:
            return None
        conversation_id = str((reference.get("conversation") or {}).get("id") or "")
        key = (event.tenant_id, f"{reference.get('serviceUrl', '')} {conversation_id}")
        conversation = self._conversations.get(key)
        if conversation is None:
            conversation = self._conversations[key] = _Conversation(key, event.tenant_id, conversation_id, reference)
        conversation.reference = reference
        if not conversation.entries and not conversation.sending:
            conversation.ready_at = max(conversation.ready_at, now + self._pacing.gather)
        return conversation

    def _dispatch(self) -> float | None:
        """Start a send for every conversation that may have one; the seconds until the next may."""
        now = self._now()
        soonest: float | None = None
        for conversation in list(self._conversations.values()):
            if conversation.sending:
                continue
            if not conversation.entries:
                if conversation.ready_at <= now and not self._recent(conversation, now):  # nothing to pace: forget it
                    del self._conversations[conversation.key]
                continue
            ready = max(conversation.ready_at, self._window_opens(conversation, now))
            if ready <= now:
                conversation.sending = True
                task = asyncio.get_running_loop().create_task(self._send(conversation))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
            else:
                soonest = ready - now if soonest is None else min(soonest, ready - now)
        return soonest

    def _recent(self, conversation: _Conversation, now: float) -> bool:
        longest = max(span for span, _ in self._pacing.windows)
        return bool(conversation.sent) and conversation.sent[-1] > now - longest

    def _window_opens(self, conversation: _Conversation, now: float) -> float:
        sent = conversation.sent
        longest = max(span for span, _ in self._pacing.windows)
        while sent and sent[0] <= now - longest:
            sent.popleft()
        opens = now
        for span, limit in self._pacing.windows:
            recent = [t for t in sent if t > now - span] if len(sent) >= limit else []
            if len(recent) >= limit:
                opens = max(opens, recent[-limit] + span)
        return opens

    async def _send(self, conversation: _Conversation) -> None:
        batch = list(conversation.entries.values())[: cards.DIGEST_MAX_DEVICES]
        events = [entry.event for entry in batch]
        try:
            if len(events) == 1:
                await self._sender.send(conversation.reference, _single_text(events[0]))
            else:
                await self._sender.send(conversation.reference, cards.digest_summary(events),
                                        cards.device_digest_card(events, new_card_id()))
        except Exception as error:  # retried with back-off, then given up with an error log
            self._failed(conversation, batch, error)
        else:
            now = self._now()
            self.messages_sent += 1
            conversation.failures, conversation.failing_since = 0, None
            conversation.sent.append(now)
            conversation.ready_at = now + self._pacing.interval
            await self._settle(conversation, batch)
        finally:
            conversation.sending = False
            self.wake()

    def _failed(self, conversation: _Conversation, batch: list[OutboxEntry], error: Exception) -> None:
        now = self._now()
        pacing = self._pacing
        conversation.failures += 1
        if conversation.failing_since is None:
            conversation.failing_since = now
        step = pacing.retry_delays[min(conversation.failures, len(pacing.retry_delays)) - 1]
        delay = error.retry_after if isinstance(error, Throttled) and error.retry_after is not None else step
        conversation.ready_at = now + max(delay, pacing.interval)
        reason = f"{type(error).__name__}: {error}"[:300]
        if now - conversation.failing_since >= pacing.give_up_after:
            dropped = list(conversation.entries.values())
            log.error("gave up telling tenant %s, conversation %s, after %.0f s of failures (attempt %d: %s); "
                      "%d notice(s) dropped, devices: %s", conversation.tenant_id, conversation.conversation_id,
                      now - conversation.failing_since, conversation.failures, reason, len(dropped),
                      ", ".join(f"{e.event.mac} ({e.event.kind.value})" for e in dropped))
            conversation.failures, conversation.failing_since = 0, None
            self._settle_later(conversation.tenant_id, dropped, conversation)
            return
        log.warning("notice to tenant %s, conversation %s (%d device(s)) failed, attempt %d; next try in %.0f s: %s",
                    conversation.tenant_id, conversation.conversation_id, len(batch), conversation.failures,
                    conversation.ready_at - now, reason)

    async def _settle(self, conversation: _Conversation | None, entries: list[OutboxEntry]) -> None:
        """Delete these entries from the outbox (one commit), then forget them."""
        if not entries:
            return
        tenant_id = entries[0].event.tenant_id
        keys = [entry.key for entry in entries]
        if conversation is not None:
            for key in keys:
                conversation.entries.pop(key, None)
        try:
            await self._outbox.settle(tenant_id, keys)
        except Exception:  # the store refused: they are sent again (at least once), never lost
            log.exception("could not mark %d notice(s) of tenant %s as sent; they will be sent again", len(keys),
                          tenant_id)
        finally:
            for key in keys:
                self._filed.pop(key, None)

    def _settle_later(self, tenant_id: str, entries: list[OutboxEntry],
                      conversation: _Conversation | None = None) -> None:
        for entry in entries:  # filed until settled, so a scan meanwhile does not take them again
            self._filed.setdefault(entry.key, conversation or _Conversation((tenant_id, ""), tenant_id, "", {}))
        task = asyncio.get_running_loop().create_task(self._settle(conversation, entries))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)


def conversation_id_of(reference: dict[str, Any]) -> str | None:
    """The conversation id in a saved conversation reference (Bot Framework's serialized form)."""
    conversation = reference.get("conversation")
    found = conversation.get("id") if isinstance(conversation, dict) else None
    return found if isinstance(found, str) else None


def _single_text(event: DeviceEvent) -> str:
    """One notice as markdown: device-reported text is escaped, never read as markdown."""
    mac = event.mac
    where = literal(event.location) if event.location else "no location"
    if event.kind is EventKind.PROVISIONED:
        hardware = literal(" ".join(p for p in (event.manufacturer, event.model) if p) or "unknown model")
        return (f"**{mac}** ({where}) was provisioned: {hardware}, firmware {literal(event.firmware or '?')}. "
                f"It is now *Waiting for sign in*: type `signin {mac}` to sign it in.")
    if event.kind is EventKind.LOCKED:
        return (f"**{mac}** ({where}) is locked after too many wrong verification codes. "
                f"If that was your technician, issue a new code with `code {mac}`.")
    if event.kind is EventKind.SIGNED_OUT:
        was = f" of {literal(event.previous_account)}" if event.previous_account else ""
        by = f" by {literal(event.by)}" if event.by else ""
        return (f"**{mac}** ({where}) was signed out{was}{by}. It keeps its provisioning and is *Waiting for "
                f"sign in*: type `signin {mac}` to sign an account in again (no factory reset needed).")
    if event.kind is EventKind.ACCOUNT_CHANGED:
        by = literal(event.by) if event.by else "An admin"
        return (f"**{mac}** ({where}): {by} signed out {literal(event.previous_account or 'its account')} to sign "
                f"in {literal(event.account or '?')}. The device shows a new sign-in code, approved on the "
                "sign-in card.")
    if event.kind is EventKind.SIGNED_IN:
        return (f"**{mac}** ({where}) is signed in as {event.account}. "
                f"To change or remove its account, type `signout {mac}` (no factory reset needed).")
    return (f"**{mac}** ({where}) was factory reset and is back in *Waiting on activation*. "
            f"Issue a new code with `code {mac}` to provision it again.")
