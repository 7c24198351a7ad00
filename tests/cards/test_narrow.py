"""The device tables, the codes and the upload report fit a narrow Teams column.

Rendered by the official adaptivecards renderer in headless Chromium, 450 px wide (Teams
in a split view or on a phone, the Agents Playground, which ignores `msteams.width`),
with a markdown step like Teams': no button title is cut, no MAC ID, code or state is
split mid-word, nothing reaches out of its table cell, and no text is swallowed.
Skipped, with one line, where there is no Node.js or no Chromium.
"""
from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

import cards
from provisioning.errors import InvalidMac
from provisioning.mac import parse_mac
from tests.cards.samples import ALL_DEVICES, CARD_ID, COUNTS, FOR_SIGN_IN, NOW, SIGNED_IN, SIGNING_IN, every_card
from tests.tools import install
from tests.tools.node import node_and_modules

WIDTH = 450
RENDERER = install.TOOLS / "render_cards.mjs"
_FOUND = install.find_chromium()
if install.node() is None or _FOUND is None:
    pytest.skip(f"{'Node.js' if install.node() is None else 'Chromium'} is not installed, so cards are "
                f"not rendered at {WIDTH} px (as root, scripts/dev.py test installs Chromium)",
                allow_module_level=True)
CHROMIUM: str = _FOUND


def _reason(mac: str) -> str:
    try:
        parse_mac(mac)
    except InvalidMac as e:
        return str(e)
    raise AssertionError(f"{mac} is valid")


def narrow_cards() -> dict[str, dict[str, Any]]:
    """Every card with a table, with realistic text (the bot's own reasons, a UPN)."""
    built = {name: card for name, card in every_card().items()
             if name.startswith(("table_", "summary", "codes", "import_summary", "digest_"))}
    for tab in ("waiting", "signin", "signedin", "all"):
        shown = [d for d in ALL_DEVICES if d.state in cards.TAB_STATES[tab]]
        built[f"tab_{tab}"] = cards.device_table_card(tab, shown, 1, 1, COUNTS, NOW, CARD_ID)
        built[f"tab_{tab}_in_a_channel"] = cards.device_table_card(tab, shown, 1, 1, COUNTS, NOW, CARD_ID,
                                                                   reveal_codes=False)
    built["status_for_sign_in"] = cards.device_status_card(FOR_SIGN_IN, NOW, CARD_ID)
    built["status_signed_in"] = cards.device_status_card(SIGNED_IN, NOW, CARD_ID)
    built["status_signing_in"] = cards.device_status_card(SIGNING_IN, NOW, CARD_ID)
    rejected = [cards.RejectedRow(line, mac, _reason(mac)) for line, mac in
                [(2, "00-1A-2B-3C-4D"), (3, "01-00-5E-00-00-01"), (4, "00:1a:2b:3c:4d:5e:6f"),
                 (5, "zz-1A-2B-3C-4D-5E"), (99999, "FF-FF-FF-FF-FF-FF")]]
    rejected += [cards.RejectedRow(100000, "", "no MAC ID in the first column"),
                 cards.RejectedRow(6, "00-1A-2B-3C-4D-5E", "already in Waiting for sign in")]
    built["import_report_real_reasons"] = cards.import_summary_card(3, 1, 6, rejected, None, CARD_ID)
    return built


def _self_check_cards() -> dict[str, dict[str, Any]]:
    """What the check must catch: the old five-column table with its row buttons, and a
    placeholder a markdown host reads as an HTML tag."""
    def cell(*items: dict) -> dict:
        return {"type": "TableCell", "items": list(items)}
    mac = {"type": "TextBlock", "text": "AA-BB-CC-DD-EE-01", "fontType": "Monospace", "wrap": True}
    buttons = {"type": "ActionSet", "actions": [{"type": "Action.Submit", "title": "Generate code"}]}
    old_table = {"type": "Table", "columns": [{"width": w} for w in (3, 4, 3, 4, 3)], "rows": [
        {"type": "TableRow", "cells": [cell(mac), cell(), cell(), cell(), cell(buttons)]}]}
    return {
        "old_table": {"type": "AdaptiveCard", "version": "1.5", "body": [old_table]},
        "tag_like": {"type": "AdaptiveCard", "version": "1.5",
                     "body": [{"type": "TextBlock", "text": "Type **add <MAC> [location]**.", "wrap": True}]},
    }


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, Any]]:
    node, modules = node_and_modules(f"cards are not rendered at {WIDTH} px")
    to_render = {**narrow_cards(), **{f"self_check_{k}": v for k, v in _self_check_cards().items()},
                 **{k: v for k, v in every_card().items() if k in ("add_form", "summary_empty", "codes_empty")}}
    path = install.tools_dir() / f"narrow-{os.getpid()}.json"
    path.write_text(json.dumps({"width": WIDTH, "cards": to_render}), encoding="utf-8")
    try:
        result = subprocess.run([node, str(RENDERER), str(path), CHROMIUM], capture_output=True, text=True,
                                env={**os.environ, "NODE_PATH": str(modules)}, timeout=180)
    finally:
        path.unlink()
    assert result.returncode == 0, f"render_cards.mjs failed:\n{result.stderr}"
    return json.loads(result.stdout)


def test_tables_fit_450_px(rendered: dict[str, dict[str, Any]]) -> None:
    problems = {name: rendered[name]["problems"] for name in narrow_cards() if rendered[name]["problems"]}
    assert problems == {}


def test_real_reasons_are_shown_whole(rendered: dict[str, dict[str, Any]]) -> None:
    shown = rendered["import_report_real_reasons"]["text"]
    assert "Use one of these forms: AA-BB-CC-DD-EE-FF, AA:BB:CC:DD:EE:FF, AABB.CCDD.EEFF or AABBCCDDEEFF." in shown
    assert "\u2026" not in shown


def test_placeholders_are_not_swallowed(rendered: dict[str, dict[str, Any]]) -> None:
    assert "add <MAC> [location]" in rendered["add_form"]["text"]
    assert "add <MAC> [location]" in rendered["summary_empty"]["text"]
    assert "code <MAC>" in rendered["codes_empty"]["text"]


def test_the_check_sees_what_a_narrow_column_breaks(rendered: dict[str, dict[str, Any]]) -> None:
    old = rendered["self_check_old_table"]["problems"]
    assert any(p.startswith('cut: ') and "Generate code" in p for p in old), old
    assert any(p.startswith('broken: "AA-BB-CC-DD-EE-01"') for p in old), old
    # the markdown step reads <MAC> as a tag, as Teams does: what text() now avoids
    assert "Type add [location]." in rendered["self_check_tag_like"]["text"]
