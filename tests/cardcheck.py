"""Check Adaptive Cards with the official renderer library, for any test that builds cards.

`validate_cards(cards)` runs `<repo>/../shared/tools/validate-card.js --target 1.5 --strict`
once over all the cards (one node process) and raises AssertionError with the validator's
output if any card has an error or a warning. The validator's npm dependency
(`adaptivecards@3`) is installed once into `<repo>/.cache/actools` (where
`scripts/dev.py test` puts it too; `ACTOOLS_DIR` overrides), under a file lock so parallel
test processes don't race. Only a machine without Node.js skips (pytest.skip).
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ADAPTIVECARDS = "adaptivecards@3"
TARGET = "1.5"


def validate_cards(cards: list[dict[str, Any]]) -> None:
    """Fail with the validator's report unless every card is valid for Teams (1.5, strict)."""
    if not cards:
        raise AssertionError("validate_cards() needs at least one card")
    node = _node()
    script = validator_path()
    env = {**os.environ, "NODE_PATH": str(_node_modules())}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(cards, f)
        path = f.name
    try:
        result = subprocess.run([node, str(script), path, "--target", TARGET, "--strict"],
                                capture_output=True, text=True, env=env, timeout=120)
    finally:
        os.unlink(path)
    if result.returncode != 0:
        raise AssertionError(
            f"validate-card.js rejected the cards (exit {result.returncode}):\n"
            f"{result.stdout}{result.stderr}"
        )


def validator_path() -> Path:
    """`validate-card.js` beside the repository (`<repo>/../shared/tools/`)."""
    override = os.environ.get("VALIDATE_CARD_JS")
    script = Path(override) if override else REPO_ROOT.parent / "shared" / "tools" / "validate-card.js"
    if not script.is_file():
        raise AssertionError(f"card validator not found at {script}; shared/ must sit beside "
                             "the repository (or set VALIDATE_CARD_JS)")
    return script


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed, so cards can't be checked with the official "
                    "adaptivecards renderer (validate-card.js)")
    return node


@lru_cache(maxsize=1)
def _node_modules() -> Path:
    """Install adaptivecards@3 once (per machine, until `.cache` is cleaned)."""
    prefix = Path(os.environ.get("ACTOOLS_DIR", REPO_ROOT / ".cache" / "actools"))
    bundle = prefix / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.js"
    if bundle.is_file():
        return prefix / "node_modules"
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be installing right now
        if not bundle.is_file():
            npm = shutil.which("npm")
            if npm is None:
                raise AssertionError("Node.js is here but npm is not: install npm, or run "
                                     f"`npm install --prefix {prefix} {ADAPTIVECARDS}` elsewhere")
            result = subprocess.run(
                [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix),
                 ADAPTIVECARDS], capture_output=True, text=True, timeout=300)
            if result.returncode != 0 or not bundle.is_file():
                raise AssertionError(f"npm install {ADAPTIVECARDS} failed:\n{result.stdout}{result.stderr}")
    return prefix / "node_modules"
