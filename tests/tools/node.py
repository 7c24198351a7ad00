"""Running the project's Node.js checks (tests/tools/*.mjs) from tests: the npm packages of
`tests/tools/package.json`, installed once per run, and one node process per call. Only a
machine without Node.js (or npm) skips the calling test, with one line saying what is not
checked."""
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


def node_and_modules(unchecked: str) -> tuple[str, Path]:
    """Node.js and the installed packages; else skip, saying `unchecked` is not checked."""
    modules, why_not = _installed()
    node = install.node()
    if modules is None or node is None:
        pytest.skip(f"{why_not}, so {unchecked}")
    return node, modules


def run_tool(script: Path, payload: Any, unchecked: str) -> subprocess.CompletedProcess[str]:
    """Run `node script <file holding payload as JSON>`; its exit code and output."""
    node, modules = node_and_modules(unchecked)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(payload, f)
        path = f.name
    try:
        return subprocess.run([node, str(script), path], capture_output=True, text=True,
                              env={**os.environ, "NODE_PATH": str(modules)}, timeout=120)
    finally:
        os.unlink(path)


@lru_cache(maxsize=1)
def _installed() -> tuple[Path | None, str]:
    try:
        return install.ensure_node_packages()
    except RuntimeError as e:
        raise AssertionError(str(e)) from None
