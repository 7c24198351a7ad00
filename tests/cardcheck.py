"""Check Adaptive Cards with the official renderer library, for any test that builds cards.

`validate_cards(cards)` runs the project's own `tests/tools/validate_card.mjs` once over all
the cards (one node process) and raises AssertionError with its report unless every card
is valid for Teams: schema 1.5, no unknown property, required inputs labelled. Its npm
packages (`tests/tools/package.json`) are installed once into `<repo>/.cache/actools`
(where `scripts/dev.py test` puts them; `ACTOOLS_DIR` overrides). Only a machine without
Node.js skips (pytest.skip).
"""
from __future__ import annotations

from typing import Any

from tests.tools import install
from tests.tools.node import run_tool

VALIDATOR = install.TOOLS / "validate_card.mjs"


def validate_cards(cards: list[dict[str, Any]]) -> None:
    """Fail with the validator's report unless every card is valid for Teams (1.5, strict)."""
    if not cards:
        raise AssertionError("validate_cards() needs at least one card")
    result = run_tool(VALIDATOR, cards, "cards are not checked with the official adaptivecards renderer")
    if result.returncode != 0:
        raise AssertionError(f"validate_card.mjs rejected the cards (exit {result.returncode}):\n"
                             f"{result.stdout}{result.stderr}")
