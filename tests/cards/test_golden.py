"""Golden JSON: every card and notable variant, built from fixed inputs, matches its file.

A deliberate change to a card: run with UPDATE_GOLDEN=1, then review the diff in git.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cards.samples import every_card

GOLDEN = Path(__file__).parent / "golden"
CARDS = every_card()


def _dump(card: dict) -> str:
    return json.dumps(card, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


@pytest.mark.parametrize("name", sorted(CARDS))
def test_card_matches_golden(name: str) -> None:
    path = GOLDEN / f"{name}.json"
    built = _dump(CARDS[name])
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(built, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}; run with UPDATE_GOLDEN=1 to create it"
    assert built == path.read_text(encoding="utf-8"), (
        f"{name} differs from {path.name}; if the change is intended, rerun with UPDATE_GOLDEN=1")


def test_no_stale_golden_files() -> None:
    stale = sorted(p.stem for p in GOLDEN.glob("*.json"))
    assert [name for name in stale if name not in CARDS] == []
