"""Which device states each list tab shows, the tabs' labels, and per-tab counts.

The tabs mirror the Teams admin center: *Waiting on activation*, *Waiting for sign in*
(which also holds devices with a sign-in in progress), *Signed in*, and *All*. The bot
can filter devices with `TAB_STATES` so the list and its counts agree.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from provisioning.devices import DeviceState

from .actions import TAB_ALL, TAB_SIGNEDIN, TAB_SIGNIN, TAB_WAITING, TABS

TAB_STATES: Final[Mapping[str, frozenset[DeviceState]]] = {
    TAB_WAITING: frozenset({DeviceState.WAITING_ON_ACTIVATION}),
    TAB_SIGNIN: frozenset({DeviceState.WAITING_FOR_SIGN_IN, DeviceState.SIGNING_IN}),
    TAB_SIGNEDIN: frozenset({DeviceState.SIGNED_IN}),
    TAB_ALL: frozenset(DeviceState),
}

TAB_LABELS: Final[Mapping[str, str]] = {
    TAB_WAITING: DeviceState.WAITING_ON_ACTIVATION.label,
    TAB_SIGNIN: DeviceState.WAITING_FOR_SIGN_IN.label,
    TAB_SIGNEDIN: DeviceState.SIGNED_IN.label,
    TAB_ALL: "All devices",
}


def tab_counts(counts: Mapping[DeviceState, int]) -> dict[str, int]:
    """Devices per tab from devices per state (a missing state counts as 0)."""
    return {tab: sum(counts.get(s, 0) for s in TAB_STATES[tab]) for tab in TABS}


def check_tab(tab: str) -> str:
    """Return `tab` if it is a known tab; raise ValueError (a caller bug) otherwise."""
    if tab not in TAB_STATES:
        raise ValueError(f"unknown tab {tab!r}; expected one of {', '.join(TABS)}")
    return tab
