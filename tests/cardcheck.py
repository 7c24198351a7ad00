"""Check Adaptive Cards with the official renderer library, for any test that builds cards.

`validate_cards(cards)` runs the project's own `tests/tools/validate_card.mjs` once over all
the cards (one node process) and raises AssertionError with its report unless every card
is valid for Teams: schema 1.5, no unknown property, required inputs labelled. Its npm
packages (`tests/tools/package.json`) are installed once into `<repo>/.cache/actools`
(where `scripts/dev.py test` puts them; `ACTOOLS_DIR` overrides). Only a machine without
Node.js skips (pytest.skip).
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from tests.tools import install

VALIDATOR = install.TOOLS / "validate_card.mjs"


def validate_cards(cards: list[dict[str, Any]]) -> None:
    """Fail with the validator's report unless every card is valid for Teams (1.5, strict)."""
    if not cards:
        raise AssertionError("validate_cards() needs at least one card")
    node, modules = node_and_modules()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(cards, f)
        path = f.name
    try:
        result = subprocess.run([node, str(VALIDATOR), path], capture_output=True, text=True,
                                env={**os.environ, "NODE_PATH": str(modules)}, timeout=120)
    finally:
        os.unlink(path)
    if result.returncode != 0:
        raise AssertionError(f"validate_card.mjs rejected the cards (exit {result.returncode}):\n"
                             f"{result.stdout}{result.stderr}")


def node_and_modules() -> tuple[str, Path]:
    """Node.js and the installed packages; skips the calling test where there is no Node."""
    modules, why_not = _installed()
    node = install.node()
    if modules is None or node is None:
        pytest.skip(f"{why_not}, so cards are not checked with the official adaptivecards renderer")
    return node, modules


@lru_cache(maxsize=1)
def _installed() -> tuple[Path | None, str]:
    try:
        return install.ensure_node_packages()
    except RuntimeError as e:
        raise AssertionError(str(e)) from None
