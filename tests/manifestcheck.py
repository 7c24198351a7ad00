"""Check a Teams app manifest against Microsoft's published JSON schema, for the package tests.

`check_manifest(manifest)` runs `tests/tools/validate_manifest.mjs`, which validates against
`@microsoft/app-manifest/build/json-schemas/teams/v<manifestVersion>/MicrosoftTeams.schema.json`
with Ajv (draft-04), and returns (valid, report). The npm packages are the ones of
`tests/tools/package.json`, installed into `<repo>/.cache/actools` like the card checks'.
Only a machine without Node.js (or npm) skips (pytest.skip, one line).
"""
from __future__ import annotations

from typing import Any

from tests.tools import install
from tests.tools.node import run_tool

VALIDATOR = install.TOOLS / "validate_manifest.mjs"


def check_manifest(manifest: dict[str, Any]) -> tuple[bool, str]:
    """(True, report) if the manifest is valid for its declared version; (False, report) if not."""
    result = run_tool(VALIDATOR, manifest, "the manifest is not checked against Microsoft's schema")
    report = result.stdout + result.stderr
    if result.returncode not in (0, 1):
        raise AssertionError(f"validate_manifest.mjs could not check it (exit {result.returncode}):\n{report}")
    return result.returncode == 0, report
