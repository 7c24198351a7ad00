#!/usr/bin/env python3
"""Set up a local virtualenv (idempotently) and run the bot or the tests.

    python3 scripts/dev.py run     # the bot on the embedded defaults, localhost:3978
    python3 scripts/dev.py test    # ruff, mypy, then the whole test suite (extra arguments go to pytest)

Needs only Python 3.11+ and the package index. Re-running skips what is already done:
packages are reinstalled only when pyproject.toml changes. When Node.js is present,
`test` also installs the official Adaptive Cards renderer used to validate every card.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
CARD_TOOLS = ROOT / ".cache" / "actools"
ADAPTIVECARDS = "adaptivecards@3"
# What `test` runs ruff and mypy on. While bot/ is being rewritten (issue 15), bot/ and
# tests/bot/ are left out (bot/process.py is already clean); once they pass, set this to
# None: plain `ruff check` and `mypy` cover the whole repository, as pyproject.toml says.
STATIC_CHECK_PATHS: list[str] | None = [
    "provisioning", "storage", "cards", "tests", "benchmarks", "scripts", "bot/process.py",
]


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        print(f"provisioning-bot needs Python 3.11 or later; this is {sys.version.split()[0]}.", file=sys.stderr)
        return 2
    if not argv or argv[0] not in ("run", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "run":
        ensure_venv(extra="")
        os.execv(str(BIN / "provisioning-bot"), [str(BIN / "provisioning-bot"), "serve", *argv[1:]])
    ensure_venv(extra="test")
    ensure_card_tools()
    failed = static_checks()
    if failed:
        return failed
    return subprocess.call([str(BIN / "python"), "-m", "pytest", *argv[1:]], cwd=ROOT)


def static_checks() -> int:
    """ruff, then mypy, each printing its findings; the first failing exit code, else 0."""
    ruff = [str(BIN / "ruff"), "check"]
    mypy = [str(BIN / "python"), "-m", "mypy"]
    if STATIC_CHECK_PATHS is not None:
        ruff += ["--extend-exclude", "tests/bot", *STATIC_CHECK_PATHS]
        # Modules reached only by import (bot/ from the benchmarks) are read, not reported.
        mypy += ["--exclude", "^tests/bot/", "--follow-imports=silent", *STATIC_CHECK_PATHS]
    for name, command in (("ruff", ruff), ("mypy", mypy)):
        print(f"running {name} ...", flush=True)
        code = subprocess.call(command, cwd=ROOT)
        if code:
            print(f"static checks failed (exit {code}); fix the findings above.", file=sys.stderr, flush=True)
            return code
    return 0


def ensure_venv(extra: str) -> None:
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()
    stamp = VENV / f".installed-{extra or 'run'}"
    if stamp.exists() and stamp.read_text() == want:
        return
    target = f".[{extra}]" if extra else "."
    print(f"installing {target} into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.check_call([*pip, "-e", target], cwd=ROOT)
    stamp.write_text(want)


def ensure_card_tools() -> None:
    """The `adaptivecards` npm package, for tests that validate cards with the real renderer."""
    if (CARD_TOOLS / "node_modules" / "adaptivecards").is_dir():
        return
    npm = shutil.which("npm")
    if not npm or not shutil.which("node"):
        print("Node.js not found: card rendering checks will be skipped.", flush=True)
        return
    print(f"installing {ADAPTIVECARDS} into .cache/actools ...", flush=True)
    CARD_TOOLS.mkdir(parents=True, exist_ok=True)
    subprocess.check_call(
        [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(CARD_TOOLS), ADAPTIVECARDS]
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
