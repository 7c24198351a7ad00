"""The Teams app package: checked inputs in, a zip of manifest.json, color.png and outline.png out.

Every input is checked before anything is written, and the zip is written to a temporary
file beside the target and renamed over it, so a failure leaves nothing behind (and an
existing package untouched until the new one is complete). A bad input raises
`PackageError` with one line naming it.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit

from bot.chat.interactions import Menu
from bot.teams_app import icons
from bot.teams_app.manifest import COLOR_ICON, DEFAULT_NAME, OUTLINE_ICON, build_manifest

__all__ = ["DEFAULT_NAME", "DEFAULT_OUT", "AppDetails", "PackageError", "check_app_id", "check_name", "check_out",
           "check_public_url", "package_files", "write_package"]

DEFAULT_OUT = "provisioning-bot-teams.zip"
MAX_SHORT_NAME = 30
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Teams' manifest schema: "version" is three dot-separated numbers without leading zeros.
_VERSION = re.compile(r"(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same inputs give the same zip


class PackageError(ValueError):
    """An input the package can't be made from; the message is one line naming it."""


@dataclass(frozen=True)
class AppDetails:
    app_id: str
    public_url: str  # https, no slash at the end
    name: str
    version: str = ""  # the manifest's version; empty: the installed provisioning-bot's


def check_app_id(value: str, source: str) -> str:
    text = value.strip()
    if not _GUID.fullmatch(text):
        raise PackageError(f"{source}: the bot's app id must be a GUID like "
                           f"00000000-0000-0000-0000-000000000000, not {_shown(value)}")
    return text


def check_public_url(value: str, source: str) -> str:
    text = value.strip()
    problem = _url_problem(text)
    if problem:
        raise PackageError(f"{source}: {problem}, not {_shown(value)}")
    return text.rstrip("/")


def _url_problem(text: str) -> str | None:
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in text):
        return "must be a URL without spaces or control characters"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that isn't a number in range
    except ValueError:
        return "must be an absolute https URL like https://bot.example.com"
    if parts.scheme.lower() != "https":
        return "must be an absolute https URL like https://bot.example.com (Teams only calls https)"
    host = parts.hostname or ""
    if not host or not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
        return "must be an absolute https URL with a host name, like https://bot.example.com"
    if parts.username is not None or parts.query or parts.fragment or "?" in text or "#" in text:
        return "must be a base URL, without user name, query or fragment"
    return None


def check_version(value: str | None) -> str:
    """The manifest version to write: MAJOR.MINOR.PATCH, as Teams' schema requires (Teams
    takes an uploaded package as an update only if its version is higher)."""
    if value is None:
        return app_version()
    text = value.strip()
    if not _VERSION.fullmatch(text):
        raise PackageError(f"--app-version: must be MAJOR.MINOR.PATCH numbers such as 1.4.0, not {_shown(value)}")
    return text


def check_name(value: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_SHORT_NAME or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise PackageError(f"--name: the app name must be 1 to {MAX_SHORT_NAME} characters "
                           f"(Teams' short name), not {_shown(value)}")
    return text


def check_out(path: Path) -> Path:
    """The zip to write: a .zip name in a directory that exists."""
    if path.suffix.lower() != ".zip":
        raise PackageError(f"--out: the package must be a .zip file, not {_shown(str(path))}")
    if path.is_dir():
        raise PackageError(f"--out: {path} is a directory; name the .zip file to write")
    parent = path.parent
    if not parent.is_dir():
        raise PackageError(f"--out: can't write {path}: {parent} is not a directory")
    return path


def package_files(app: AppDetails, menu: Menu) -> dict[str, bytes]:
    """The zip's entries: the manifest and both icons."""
    manifest = build_manifest(app_id=app.app_id, public_url=app.public_url, name=app.name,
                              version=app.version or app_version(), menu=menu)
    return {
        "manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
        COLOR_ICON: icons.color_icon(),
        OUTLINE_ICON: icons.outline_icon(),
    }


def app_version() -> str:
    """The manifest's version: the installed provisioning-bot's (semver)."""
    try:
        return metadata.version("provisioning-bot")
    except metadata.PackageNotFoundError:  # run from a source tree that isn't installed
        return "0.0.0"


def write_package(files: dict[str, bytes], out: Path) -> None:
    """Write the zip to `out` (replacing it), atomically; nothing is left behind on failure."""
    temporary = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    try:
        # O_EXCL: never follows or reuses a file already there; 0o666 less the umask, like any new file.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                entry = zipfile.ZipInfo(name, _ZIP_TIME)
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16
                archive.writestr(entry, data)
        os.replace(temporary, out)
    except OSError as error:
        _discard(temporary)
        raise PackageError(f"--out: can't write {out}: {error.strerror or error}") from None
    except BaseException:
        _discard(temporary)
        raise


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")
