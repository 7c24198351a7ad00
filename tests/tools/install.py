"""Find or install what the card and manifest checks need: Node.js packages and a Chromium.

Standard library only: `scripts/dev.py` imports this before the virtualenv exists.

- `ensure_node_packages()` installs `tests/tools/package.json` (the official `adaptivecards`
  renderer, `markdown-it`, `playwright-core`; Microsoft's Teams manifest schemas and the
  Ajv validator) into `<repo>/.cache/actools` (`ACTOOLS_DIR`
  overrides), again only when package.json changes, under a file lock so parallel test
  processes don't race. Returns that `node_modules`, or None with the reason when Node.js
  or npm is missing.
- `find_chromium()` is the browser the rendering checks drive (`CHROMIUM=/path` overrides;
  `CHROMIUM=none` turns the rendering checks off).
- `install_chromium()` installs Debian's `chromium` with apt-get, only as root.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO_ROOT = TOOLS.parent.parent
PACKAGE_JSON = TOOLS / "package.json"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")


def tools_dir() -> Path:
    return Path(os.environ.get("ACTOOLS_DIR", REPO_ROOT / ".cache" / "actools"))


def node() -> str | None:
    return shutil.which("node")


def node_packages_installed() -> bool:
    return _read(tools_dir() / ".installed") == _wanted()


def ensure_node_packages() -> tuple[Path | None, str]:
    """(node_modules, "") once installed, or (None, why not)."""
    if node() is None:
        return None, "Node.js is not installed"
    prefix = tools_dir()
    modules = prefix / "node_modules"
    want = _wanted()
    stamp = prefix / ".installed"
    if _read(stamp) == want:
        return modules, ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not installed (Node.js is)"
    prefix.mkdir(parents=True, exist_ok=True)
    import fcntl  # POSIX only, like the rest of the test tooling

    with open(prefix / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be installing right now
        if _read(stamp) != want:
            shutil.copyfile(PACKAGE_JSON, prefix / "package.json")
            result = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund",
                                     "--no-package-lock", "--prefix", str(prefix)],
                                    capture_output=True, text=True, timeout=600)
            if result.returncode != 0:
                raise RuntimeError(f"npm install in {prefix} failed:\n{result.stdout}{result.stderr}")
            stamp.write_text(want)
    return modules, ""


def find_chromium() -> str | None:
    override = os.environ.get("CHROMIUM")
    if override:
        return override if Path(override).is_file() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def can_install_chromium() -> bool:
    """As root with apt-get, unless `CHROMIUM` names the browser to use (or `none`)."""
    return ("CHROMIUM" not in os.environ and hasattr(os, "geteuid") and os.geteuid() == 0
            and shutil.which("apt-get") is not None)


def install_chromium() -> str | None:
    """apt-get install chromium (as root); the browser's path, or None if that failed."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=900).returncode != 0:
            return None
    return find_chromium()


def _wanted() -> str:
    return hashlib.sha256(PACKAGE_JSON.read_bytes()).hexdigest()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
