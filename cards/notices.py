"""The digest card: several device events for one conversation, told in one message.

A burst (a technician provisioning a rack, a bulk `code all` followed by hundreds of
provisions) would otherwise be one chat message per device. The card names every device
it covers: locked-out devices first (they need an admin: a new code), then the first
`DIGEST_DETAILED` with location and what they reported, then every MAC by event. The
bot caps a digest at `DIGEST_MAX_DEVICES` so the card stays within `MAX_CARD_BYTES`; a
larger backlog goes out as several digests, one per pacing interval.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from provisioning.outbox import DeviceEvent, EventKind

from . import actions as a
from ._device_view import LOCATION_MAX_LENGTH
from ._elements import Element, card, heading, plain, run, submit, text
from ._format import clip

DIGEST_DETAILED: Final = 8  # events shown with location and detail
DIGEST_MAX_DEVICES: Final = 500  # events per digest card: all 500 MACs fit the card budget

# Most urgent first: a locked device waits for an admin.
KIND_ORDER: Final = (EventKind.LOCKED, EventKind.PROVISIONED, EventKind.SIGNED_IN, EventKind.SIGNED_OUT,
                     EventKind.ACCOUNT_CHANGED, EventKind.RESET)
_LABELS: Final = {
    EventKind.LOCKED: "locked out",
    EventKind.PROVISIONED: "provisioned",
    EventKind.SIGNED_IN: "signed in",
    EventKind.RESET: "factory reset",
    EventKind.SIGNED_OUT: "signed out",
    EventKind.ACCOUNT_CHANGED: "moved to another account",
}


def digest_summary(events: Sequence[DeviceEvent]) -> str:
    """"37 devices provisioned, 2 locked out": the counts, most urgent first."""
    parts = []
    for kind in KIND_ORDER:
        count = sum(1 for e in events if e.kind is kind)
        if count:
            parts.append(f"{count} {'device' if count == 1 else 'devices'} {_LABELS[kind]}")
    return ", ".join(parts)


def device_digest_card(events: Sequence[DeviceEvent], card_id: str) -> Element:
    """One card for up to `DIGEST_MAX_DEVICES` events (oldest first within each kind)."""
    if len(events) > DIGEST_MAX_DEVICES:
        raise ValueError(f"{len(events)} events in one digest; at most {DIGEST_MAX_DEVICES}")
    ordered = sorted(events, key=lambda e: KIND_ORDER.index(e.kind))
    locked = [e for e in ordered if e.kind is EventKind.LOCKED]
    body: list[Element | None] = [heading(digest_summary(events))]
    if locked:
        body.append(text(f"**Needs action**: {len(locked)} locked out after too many wrong verification codes. "
                         "Issue a new code (`code <MAC>`) if that was your technician.", color="Attention"))
    shown = ordered[:DIGEST_DETAILED]
    body += [_line(event) for event in shown]
    if len(ordered) > len(shown):
        body.append(text(f"All {len(ordered)}, by event:", weight="Bolder", spacing="Medium"))
        for kind in KIND_ORDER:
            macs = [e.mac for e in ordered if e.kind is kind]
            if macs:
                body.append(plain(run(f"{_LABELS[kind].capitalize()} ({len(macs)}): ", weight="Bolder"),
                                  run(", ".join(macs), monospace=True, size="Small")))
    buttons = []
    if any(e.kind is EventKind.PROVISIONED for e in events):
        buttons.append(submit("List waiting for sign in", a.LIST_DEVICES, card_id, tab=a.TAB_SIGNIN))
    if locked or any(e.kind is EventKind.RESET for e in events):
        buttons.append(submit("List waiting on activation", a.LIST_DEVICES, card_id, tab=a.TAB_WAITING))
    return card(body, buttons)


def _line(event: DeviceEvent) -> Element:
    """One event: MAC, where, and what the device reported (outside text: plain runs)."""
    runs = [run(event.mac, monospace=True, weight="Bolder"), run(f" {_LABELS[event.kind]}")]
    where = clip(event.location, LOCATION_MAX_LENGTH) if event.location else "no location"
    runs.append(run(f" \u00b7 {where}", subtle=True))
    if event.kind is EventKind.PROVISIONED:
        hardware = " ".join(p for p in (event.manufacturer, event.model) if p) or "unknown model"
        runs.append(run(f" \u00b7 {hardware}, firmware {event.firmware or '?'}", subtle=True))
    elif event.kind is EventKind.SIGNED_IN and event.account:
        runs.append(run(f" \u00b7 as {event.account}", subtle=True))
    elif event.kind is EventKind.SIGNED_OUT and event.previous_account:
        runs.append(run(f" \u00b7 was {event.previous_account}", subtle=True))
    elif event.kind is EventKind.ACCOUNT_CHANGED:
        runs.append(run(f" \u00b7 {event.previous_account or '?'} \u2192 {event.account or '?'}", subtle=True))
    return plain(*runs, spacing="Small")
