"""The largest cards the builders can make: full pages of rows whose every field is at its
limit, in characters that JSON (with the default ensure_ascii) escapes to 12 bytes each."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import cards
from cards._elements import MAX_CARD_BYTES
from provisioning.devices import DeviceState, HistoryEntry
from provisioning.firmware import CatalogEntry
from tests.cards.samples import COUNTS, NOW, code, device, grant

EMOJI = "\U0001F600"  # outside the BMP: `\ud83d\ude00` in JSON, 12 bytes
LOCATION = EMOJI * 128  # the domain's longest location
LONG = EMOJI * 500  # device-reported or file text with no limit of its own
ACCOUNT = "a" * 240 + "@contoso.com"  # the domain only accepts ASCII UPNs, up to 254 characters
CARD_ID = "f" * 40  # longer than the bot's uuid4().hex


def _devices(state: DeviceState, n: int) -> list:
    extra: dict[str, Any] = dict(location=LOCATION, manufacturer=LONG, model=LONG, firmware="9" * 64,
                                 account=ACCOUNT, locked=True, failed_attempts=5)
    if state is DeviceState.WAITING_ON_ACTIVATION:
        extra.update(code=code(), model=None, manufacturer=None, firmware=None, account=None)
    return [device(f"AA-BB-CC-DD-{i // 256:02X}-{i % 256:02X}", state, **extra) for i in range(n)]


def worst_cards() -> dict[str, dict[str, Any]]:
    rows = cards.DEVICE_ROWS_PER_PAGE
    built: dict[str, dict[str, Any]] = {}
    for state in DeviceState:
        for tab in ("waiting", "signin", "signedin", "all"):
            built[f"table_{tab}_{state.value}"] = cards.device_table_card(
                tab, _devices(state, rows), 2, 3, COUNTS, NOW, CARD_ID)
        history = [HistoryEntry(NOW, "provisioned" * 5, LONG, LONG)] * 50
        built[f"status_{state.value}"] = cards.device_status_card(
            _devices(state, 1)[0].__class__(**{**_devices(state, 1)[0].__dict__, "sign_in": grant()}),
            NOW, CARD_ID, history)
    built["summary"] = cards.summary_card(
        COUNTS, _devices(DeviceState.WAITING_ON_ACTIVATION, rows), NOW, CARD_ID, 3)
    coded = _devices(DeviceState.WAITING_ON_ACTIVATION, cards.CODE_ROWS_PER_PAGE)
    built["codes"] = cards.codes_card(coded, NOW, CARD_ID, 2, 3)
    built["codes_issued"] = cards.codes_issued_card(coded * 100, NOW, CARD_ID)
    rejected = [cards.RejectedRow(100000 + i, LONG, LONG) for i in range(10000)]
    built["import_summary"] = cards.import_summary_card(
        10**6, 10**6, 10**6, rejected, "https://bot.example.com/files/" + "x" * 200, CARD_ID)
    # The catalog is the operator's config: ASCII, but every field at its clip limit and
    # full of the one ASCII character JSON doubles.
    ascii_long = '"' * 200
    entries = [CatalogEntry(ascii_long + str(i % 3), ascii_long, ascii_long + str(i), "1." * 31 + "1")
               for i in range(500)]
    built["firmware_catalog"] = cards.firmware_catalog_card(entries)
    sign_in_device = _devices(DeviceState.SIGNING_IN, 1)[0]
    built["sign_in"] = cards.sign_in_card(sign_in_device, "BCDF-GHJK", NOW + timedelta(minutes=15), NOW,
                                          CARD_ID, error=LONG[:200], account=LONG[:200])
    return built


__all__ = ["MAX_CARD_BYTES", "worst_cards"]
