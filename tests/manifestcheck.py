"""Check a Teams app manifest against Microsoft's published JSON schema, for the package tests.

`check_manifest(manifest)` runs `tests/tools/validate_manifest.mjs`, which validates against
`@microsoft/app-manifest/build/json-schemas/teams/v<manifestVersion>/MicrosoftTeams.schema.json`
with Ajv (draft-04), and returns (valid, report). The npm packages are the ones of
`tests/tools/package.json`, installed into `<repo>/.cache/actools` like the card checks'.
Only a machine without Node.js (or npm) skips (pytest.skip, one line).
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

VALIDATOR = install.TOOLS / "validate_manifest.mjs"


def check_manifest(manifest: dict[str, Any]) -> tuple[bool, str]:
    """(True, report) if the manifest is valid for its declared version; (False, report) if not."""
    node, modules = _node_and_modules()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(manifest, f)
        path = f.name
    try:
        result = subprocess.run([node, str(VALIDATOR), path], capture_output=True, text=True,
                                env={**os.environ, "NODE_PATH": str(modules)}, timeout=120)
    finally:
        os.unlink(path)
    report = result.stdout + result.stderr
    if result.returncode not in (0, 1):
        raise AssertionError(f"validate_manifest.mjs could not check it (exit {result.returncode}):\n{report}")
    return result.returncode == 0, report


def _node_and_modules() -> tuple[str, Path]:
    modules, why_not = _installed()
    node = install.node()
    if modules is None or node is None:
        pytest.skip(f"{why_not}, so the manifest is not checked against Microsoft's schema")
    return node, modules


@lru_cache(maxsize=1)
def _installed() -> tuple[Path | None, str]:
    try:
        return install.ensure_node_packages()
    except RuntimeError as e:
        raise AssertionError(str(e)) from None
