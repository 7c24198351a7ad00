"""The firmware catalog: which device models can be provisioned, from which firmware on.

The built-in list is `catalog.json` (the seed's table, one entry per model); admins add
or override models with their own file in the same format (`Catalog.extended_with`),
because the real list changes more often than releases. Versions are dotted integers of
any length, compared segment by segment. Model look-up ignores case, spacing and
punctuation, and accepts the vendor's name in front of the model or apart from it.

Catalog file format (UTF-8 JSON):

    {"schema_version": 1,
     "entries": [{"category": "Teams phones", "vendor": "Yealink", "model": "T55A",
                  "minimum_version": "58.15.0.124", "aliases": ["..."]}]}

`aliases` (other names a device may report for the model) and `comment` are optional.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum
from functools import lru_cache
from importlib.resources import files
from os import PathLike
from pathlib import Path
from typing import Any

from .errors import CatalogError, InvalidVersion

SCHEMA_VERSION = 1
_EXAMPLE_VERSION = "58.15.0.124"
_MAX_VERSION_LENGTH = 64
_SHOWN_MAX = 60
_TOP_LEVEL_KEYS = frozenset({"schema_version", "source", "comment", "entries"})
_REQUIRED_FIELDS = ("category", "vendor", "model", "minimum_version")
_ENTRY_KEYS = frozenset(_REQUIRED_FIELDS) | {"aliases", "comment"}
# Other names a device or an admin may give a catalog vendor (after `_key`). "Audio Codes"
# needs no entry: `_key` already drops the space.
_VENDOR_ALIASES = {"POLYCOM": "POLY", "HPPOLY": "POLY", "PLANTRONICS": "POLY"}


# --- versions --------------------------------------------------------------------------


def parse_version(text: str) -> tuple[int, ...]:
    """`"1.004.0115"` -> `(1, 4, 115)`; raise `InvalidVersion` saying what is wrong."""
    if not isinstance(text, str):
        raise InvalidVersion(
            f"The firmware version must be text such as {_EXAMPLE_VERSION}, not {type(text).__name__}."
        )
    stripped = text.strip()
    if not stripped:
        raise InvalidVersion(
            f"The firmware version is empty: give numbers separated by dots, such as {_EXAMPLE_VERSION}."
        )
    if len(stripped) > _MAX_VERSION_LENGTH:
        raise InvalidVersion(
            f"'{_shorten(stripped)}' is not a firmware version: it is longer than "
            f"{_MAX_VERSION_LENGTH} characters."
        )
    parts = stripped.split(".")
    for part in parts:
        if not (part.isascii() and part.isdigit()):
            reason = "it has an empty part between dots" if not part else f"'{part}' is not a number"
            raise InvalidVersion(
                f"'{stripped}' is not a firmware version: {reason}. A version is numbers "
                f"separated by dots, such as {_EXAMPLE_VERSION}."
            )
    return tuple(int(part) for part in parts)


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` is older than, equal to or newer than `b` (`1.2` == `1.2.0`)."""
    left, right = parse_version(a), parse_version(b)
    width = max(len(left), len(right))
    left += (0,) * (width - len(left))
    right += (0,) * (width - len(right))
    return (left > right) - (left < right)


# --- entries and verdicts --------------------------------------------------------------


@dataclass(frozen=True)
class CatalogEntry:
    category: str
    vendor: str
    model: str
    minimum_version: str
    aliases: tuple[str, ...] = ()  # other model names that mean this entry

    @property
    def display_name(self) -> str:
        return f"{self.vendor} {self.model}"


class FirmwareStatus(str, Enum):
    SUPPORTED = "supported"
    TOO_OLD = "firmware_too_old"
    UNKNOWN_MODEL = "unsupported_device"


@dataclass(frozen=True)
class FirmwareVerdict:
    status: FirmwareStatus
    entry: CatalogEntry | None
    minimum_version: str | None
    message: str  # for the technician at the device

    @property
    def supported(self) -> bool:
        return self.status is FirmwareStatus.SUPPORTED


# --- the catalog -----------------------------------------------------------------------


class Catalog:
    """An immutable set of catalog entries with a forgiving model look-up."""

    def __init__(self, entries: Iterable[CatalogEntry]) -> None:
        merged: dict[tuple[str, str], CatalogEntry] = {}
        for entry in entries:  # the same vendor and model twice: the later one wins
            merged[(_vendor_key(entry.vendor), _key(entry.model))] = entry
        self._entries = tuple(sorted(merged.values(), key=_sort_key))
        self._by_name: dict[str, list[CatalogEntry]] = {}
        for entry in self._entries:
            for name_key in _name_keys(entry):
                self._by_name.setdefault(name_key, []).append(entry)
        vendors = {_vendor_key(entry.vendor) for entry in self._entries}
        self._vendor_spellings = {v: v for v in vendors}
        self._vendor_spellings.update(
            {alias: v for alias, v in _VENDOR_ALIASES.items() if v in vendors}
        )

    @classmethod
    def default(cls) -> Catalog:
        """The catalog shipped in the package (`provisioning/catalog.json`)."""
        return _default_catalog()

    @classmethod
    def from_file(cls, path: str | PathLike[str]) -> Catalog:
        return cls(_read_catalog_file(path))

    def extended_with(self, path: str | PathLike[str]) -> Catalog:
        """A new catalog with the admin's file applied; this one is left as it was.

        An entry whose vendor and model (or one of its aliases) match an existing entry
        replaces it; the old entry's names stay as aliases, so devices that matched keep
        matching. Any problem in the file raises `CatalogError` and applies nothing.
        """
        merged = list(self._entries)
        for new in _read_catalog_file(path):
            vendor, model_key = _vendor_key(new.vendor), _key(new.model)
            for index, old in enumerate(merged):
                if _vendor_key(old.vendor) == vendor and model_key in _name_keys(old):
                    merged[index] = _keeping_old_names(new, old)
                    break
            else:
                merged.append(new)
        return Catalog(merged)

    @property
    def entries(self) -> tuple[CatalogEntry, ...]:
        """Every entry, sorted by category, vendor and model."""
        return self._entries

    def find(self, model: str, manufacturer: str | None = None) -> CatalogEntry | None:
        """The entry for a model as a device or admin names it, or None if unknown.

        The model must match exactly once case, spaces and punctuation are ignored
        ("Rally Bar" never finds "Rally Bar Mini"); a vendor name in front of it is
        optional. A `manufacturer` the catalog knows must be the entry's vendor; one it
        does not know (a trade name, a parent company) is ignored.
        """
        model_key = _key(model) if isinstance(model, str) else ""
        if not model_key:
            return None
        readings = [(entry, False) for entry in self._by_name.get(model_key, ())]
        for spelling, vendor in self._vendor_spellings.items():
            rest = model_key[len(spelling) :]
            if rest and model_key.startswith(spelling):
                readings += [
                    (entry, True)
                    for entry in self._by_name.get(rest, ())
                    if _vendor_key(entry.vendor) == vendor
                ]
        maker = self._known_vendor(manufacturer)
        if maker is not None:
            readings = [(e, named) for e, named in readings if _vendor_key(e.vendor) == maker]
        if not readings:
            return None
        # Same model under two vendors and nothing to tell them apart: prefer the reading
        # that named its vendor, then catalog order, so the answer is at least stable.
        readings.sort(key=lambda reading: (not reading[1], _sort_key(reading[0])))
        return readings[0][0]

    def check(
        self, model: str, firmware_version: str, manufacturer: str | None = None
    ) -> FirmwareVerdict:
        """Whether a device may be provisioned. Raises `InvalidVersion` for a bad version."""
        parse_version(firmware_version)
        version = firmware_version.strip()
        entry = self.find(model, manufacturer)
        if entry is None:
            return FirmwareVerdict(
                FirmwareStatus.UNKNOWN_MODEL,
                None,
                None,
                f"{_device_name(model, manufacturer)} is not on the list of supported Teams "
                "Android devices, so it can't be provisioned remotely. Check the model name "
                "on the device, or ask your admin to add the model to the firmware catalog.",
            )
        if compare_versions(version, entry.minimum_version) < 0:
            return FirmwareVerdict(
                FirmwareStatus.TOO_OLD,
                entry,
                entry.minimum_version,
                f"{entry.display_name} needs firmware {entry.minimum_version} or later; this "
                f"device runs {version}. Update the firmware, then enter the code again.",
            )
        return FirmwareVerdict(
            FirmwareStatus.SUPPORTED,
            entry,
            entry.minimum_version,
            f"{entry.display_name} with firmware {version} is supported "
            f"(minimum {entry.minimum_version}).",
        )

    def _known_vendor(self, manufacturer: str | None) -> str | None:
        """The catalog vendor a manufacturer names (or starts with), else None."""
        if not isinstance(manufacturer, str):
            return None
        maker = _key(manufacturer)
        if not maker:
            return None
        if maker in self._vendor_spellings:
            return self._vendor_spellings[maker]
        # "Yealink Network Technology" is Yealink; the longest spelling wins (Polycom > Poly).
        prefixes = [s for s in self._vendor_spellings if maker.startswith(s)]
        return self._vendor_spellings[max(prefixes, key=len)] if prefixes else None


@lru_cache(maxsize=1)
def _default_catalog() -> Catalog:
    text = files("provisioning").joinpath("catalog.json").read_text(encoding="utf-8")
    return Catalog(_parse_catalog_text(text, "the built-in catalog (provisioning/catalog.json)"))


# --- reading catalog files -------------------------------------------------------------


def _read_catalog_file(path: str | PathLike[str]) -> list[CatalogEntry]:
    where = f"catalog file {Path(path)}"
    try:
        # utf-8-sig: Windows editors often save JSON with a byte-order mark.
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CatalogError(f"The {where} was not found.") from None
    except UnicodeDecodeError:
        raise CatalogError(f"The {where} is not UTF-8 text; save it as UTF-8 JSON.") from None
    except OSError as error:
        raise CatalogError(f"The {where} can't be read: {error.strerror or error}.") from None
    return _parse_catalog_text(text, where)


def _parse_catalog_text(text: str, where: str) -> list[CatalogEntry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CatalogError(
            f"The {where} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    if not isinstance(data, dict):
        raise CatalogError(
            f'The {where} must hold a JSON object with "schema_version": {SCHEMA_VERSION} '
            'and an "entries" list.'
        )
    unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
    if unknown:
        raise CatalogError(
            f"The {where} has unknown keys {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(_TOP_LEVEL_KEYS))}."
        )
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise CatalogError(
            f"The {where} has schema_version {version!r}; this bot reads schema_version "
            f"{SCHEMA_VERSION}."
        )
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list):
        raise CatalogError(f'The {where} needs an "entries" list of catalog entries.')
    entries: list[CatalogEntry] = []
    seen: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(raw_entries, start=1):
        entry = _parse_entry(raw, f"{where}, entry {number}")
        vendor = _vendor_key(entry.vendor)
        for name_key in _name_keys(entry):
            first = seen.setdefault((vendor, name_key), number)
            if first != number:
                raise CatalogError(
                    f"The {where}, entry {number} ({entry.display_name}) names the same "
                    f"model as entry {first}; keep one of them."
                )
        entries.append(entry)
    return entries


def _parse_entry(raw: Any, where: str) -> CatalogEntry:
    if not isinstance(raw, dict):
        raise CatalogError(f"The {where} must be a JSON object with {', '.join(_REQUIRED_FIELDS)}.")
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise CatalogError(
            f"The {where} has unknown fields {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(_ENTRY_KEYS))}."
        )
    values: dict[str, str] = {}
    for name in _REQUIRED_FIELDS:
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise CatalogError(f'The {where} needs "{name}" as non-empty text.')
        values[name] = " ".join(value.split())
    if not _key(values["vendor"]) or not _key(values["model"]):
        raise CatalogError(f"The {where} needs a vendor and model with letters or digits.")
    try:
        parse_version(values["minimum_version"])
    except InvalidVersion as error:
        raise CatalogError(f"The {where} ({values['vendor']} {values['model']}): {error.message}") from None
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(
        isinstance(alias, str) and _key(alias) for alias in aliases
    ):
        raise CatalogError(f'The {where}: "aliases" must be a list of model names.')
    return CatalogEntry(aliases=tuple(" ".join(a.split()) for a in aliases), **values)


# --- names -----------------------------------------------------------------------------


def _key(text: str) -> str:
    """Case, spacing and punctuation removed: "Rally Bar Mini" -> "RALLYBARMINI"."""
    return "".join(c for c in text.upper() if c.isalnum())


def _vendor_key(vendor: str) -> str:
    key = _key(vendor)
    return _VENDOR_ALIASES.get(key, key)


def _name_keys(entry: CatalogEntry) -> tuple[str, ...]:
    keys = dict.fromkeys(_key(name) for name in (entry.model, *entry.aliases))
    return tuple(keys)


def _keeping_old_names(new: CatalogEntry, old: CatalogEntry) -> CatalogEntry:
    by_key: dict[str, str] = {}
    for name in (new.model, *new.aliases, old.model, *old.aliases):
        by_key.setdefault(_key(name), name)  # the admin's spelling of a name wins
    del by_key[_key(new.model)]
    return replace(new, aliases=tuple(by_key.values()))


def _sort_key(entry: CatalogEntry) -> tuple[str, str, str]:
    return (entry.category.casefold(), entry.vendor.casefold(), entry.model.casefold())


def _device_name(model: str, manufacturer: str | None) -> str:
    name = model.strip() if isinstance(model, str) else ""
    if isinstance(manufacturer, str) and manufacturer.strip() and not _key(name).startswith(_key(manufacturer)):
        name = f"{manufacturer.strip()} {name}".strip()
    return f"'{_shorten(name)}'" if name else "A device with no model name"


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "..."
