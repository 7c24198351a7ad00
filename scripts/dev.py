#!/usr/bin/env python3
"""Set up a local virtualenv (idempotently) and run the bot or the tests.

    python3 scripts/dev.py run     # the bot on the embedded defaults, localhost:3978
    python3 scripts/dev.py test    # ruff, mypy, then the whole test suite (extra arguments go to pytest)

Needs only Python 3.11+ and the package index. Re-running skips what is already done:
packages are reinstalled only when pyproject.toml changes. `test` also sets up the card
checks: with Node.js, the npm packages of tests/tools/package.json (the official Adaptive
Cards renderer and what drives a browser) into .cache/actools; and, for the checks that
render cards, Chromium (installed with apt-get when running as root, else those skip).
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
    # The whole repository, as pyproject.toml configures them.
    ruff = [str(BIN / "ruff"), "check"]
    mypy = [str(BIN / "python"), "-m", "mypy"]
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
    """The npm packages the card checks use and a Chromium, or one line on what is skipped."""
    sys.path.insert(0, str(ROOT))
    from tests.tools import install  # standard library only

    if install.node() is None or shutil.which("npm") is None:
        print("Node.js (with npm) not found: the card validation and rendering checks will be skipped.",
              flush=True)
        return
    if not install.node_packages_installed():
        print("installing tests/tools/package.json into .cache/actools ...", flush=True)
        install.ensure_node_packages()
    if install.find_chromium():
        return
    if install.can_install_chromium():
        print("installing chromium with apt-get for the card rendering checks ...", flush=True)
        if install.install_chromium():
            return
    print("Chromium not found: the card rendering checks (450 px) will be skipped.", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
