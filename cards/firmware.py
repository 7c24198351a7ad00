"""Firmware cards: the supported-device catalog and one model-and-version verdict."""
from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Final

from provisioning.firmware import CatalogEntry, FirmwareStatus, FirmwareVerdict

from ._elements import Element, card, cell, facts, heading, plain, run, table, text
from ._format import clip

# The built-in catalog has 20 entries; an admin's file may add more. Rows past this are
# summarized so the card stays under MAX_CARD_BYTES (a test checks it with every field
# at its clip limit; the catalog is the operator's config, so the test assumes ASCII).
FIRMWARE_ROWS_SHOWN: Final = 30
_FIELD_MAX = 48

_HEADINGS = {
    FirmwareStatus.SUPPORTED: ("Supported", "Good"),
    FirmwareStatus.TOO_OLD: ("Firmware too old", "Warning"),
    FirmwareStatus.UNKNOWN_MODEL: ("Not a supported device", "Attention"),
}


def firmware_catalog_card(entries: Sequence[CatalogEntry]) -> Element:
    """`firmware`: every supported model with its minimum firmware, by category."""
    # Stable sort: entries keep the catalog's order within a category.
    shown = sorted(entries, key=lambda e: e.category)[:FIRMWARE_ROWS_SHOWN]
    body: list[Element | None] = [
        heading("Supported devices"),
        text("A device can be provisioned remotely when its model is listed and its firmware "
             "is at least the minimum. Check one with **firmware <model> <version>**.", subtle=True),
    ]
    rows = []
    for category, group in groupby(shown, key=lambda e: e.category):
        for index, e in enumerate(group):
            # The category only on its first row: the table reads as groups.
            rows.append([cell(plain(run(clip(category, _FIELD_MAX), weight="Bolder")) if index == 0 else None),
                         cell(plain(clip(e.vendor, _FIELD_MAX))), cell(plain(clip(e.model, _FIELD_MAX))),
                         cell(text(clip(e.minimum_version, _FIELD_MAX), monospace=True))])
    if rows:
        body.append(table([("Category", 3), ("Vendor", 2), ("Model", 3), ("Minimum firmware", 3)], rows))
    else:
        body.append(text("The catalog is empty: no device can be provisioned until an admin "
                         "adds models to it."))
    if len(entries) > len(shown):
        body.append(text(f"{len(entries) - len(shown)} more models are not shown here; "
                         "**firmware <model> <version>** checks any of them.", subtle=True))
    return card(body, wide=True)


def firmware_check_card(verdict: FirmwareVerdict) -> Element:
    """`firmware <model> <version>`: may that device be provisioned, and if not, why."""
    title, color = _HEADINGS[verdict.status]
    body: list[Element | None] = [heading(title, color=color), plain(verdict.message)]
    if verdict.entry is not None:
        entry = verdict.entry
        body.append(facts([
            ("Model", clip(entry.display_name, 2 * _FIELD_MAX)),
            ("Category", clip(entry.category, _FIELD_MAX)),
            ("Minimum firmware", run(clip(verdict.minimum_version or entry.minimum_version,
                                          _FIELD_MAX), monospace=True)),
        ]))
    else:
        body.append(text("Type **firmware** for the list of supported devices.", subtle=True))
    return card(body)
