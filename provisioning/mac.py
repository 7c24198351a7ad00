"""Device MAC IDs: parse the forms admins paste, store one canonical form.

Accepted on input (any case, surrounding whitespace ignored): `AA-BB-CC-DD-EE-FF`,
`AA:BB:CC:DD:EE:FF`, `AABB.CCDD.EEFF` and `AABBCCDDEEFF`. Stored and shown as upper-case
`AA-BB-CC-DD-EE-FF`, the Teams admin center's display form. Addresses that can never be
a device's network card (all zeros, broadcast, multicast) are refused with the reason.
"""
from __future__ import annotations

from .errors import InvalidMac

ACCEPTED_MAC_FORMS: tuple[str, ...] = (
    "AA-BB-CC-DD-EE-FF",
    "AA:BB:CC:DD:EE:FF",
    "AABB.CCDD.EEFF",
    "AABBCCDDEEFF",
)

# A hint for Adaptive Card Input.Text `regex` (JavaScript syntax, so no inline flags and
# explicit anchors: renderers test it unanchored). The server still runs `parse_mac`.
_H = "[0-9A-Fa-f]"
MAC_INPUT_REGEX: str = (
    rf"^\s*(?:{_H}{{2}}([-:])(?:{_H}{{2}}\1){{4}}{_H}{{2}}"
    rf"|{_H}{{4}}\.{_H}{{4}}\.{_H}{{4}}"
    rf"|{_H}{{12}})\s*$"
)

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_SEPARATORS = "-:."
# Group lengths each separator implies; "" is the bare 12-digit form.
_GROUPS: dict[str, tuple[int, ...]] = {
    "-": (2, 2, 2, 2, 2, 2),
    ":": (2, 2, 2, 2, 2, 2),
    ".": (4, 4, 4),
    "": (12,),
}
_BROADCAST = 0xFFFF_FFFF_FFFF
_MULTICAST_BIT = 1 << 40  # lowest bit of the first octet (the I/G bit)
_SHOWN_MAX = 40


def parse_mac(text: str) -> str:
    """Return `text` as canonical `AA-BB-CC-DD-EE-FF`, or raise `InvalidMac` saying why."""
    stripped = text.strip()
    if not stripped:
        raise _invalid(text, "it is empty")
    bad = _bad_characters(stripped)
    if bad:
        raise _invalid(text, f"it contains {bad}, which cannot appear in a MAC address")
    separators = sorted({c for c in stripped if c in _SEPARATORS}, key=stripped.index)
    if len(separators) > 1:
        shown = " and ".join(f"'{s}'" for s in separators)
        raise _invalid(text, f"it mixes separators ({shown}); use one kind throughout")
    separator = separators[0] if separators else ""
    groups = stripped.split(separator) if separator else [stripped]
    digits = "".join(groups)
    if len(digits) != 12:
        raise _invalid(text, f"it has {len(digits)} hex digits; a MAC address has 12")
    if tuple(len(g) for g in groups) != _GROUPS[separator]:
        raise _invalid(text, f"its '{separator}' separators are in the wrong places")
    value = int(digits, 16)
    if value == 0:
        raise _invalid(text, "it is all zeros, which is never a device's address")
    if value == _BROADCAST:
        raise _invalid(text, "it is the broadcast address, which is never a device's address")
    if value & _MULTICAST_BIT:
        raise _invalid(
            text,
            "it is a multicast address (the lowest bit of the first octet is set), "
            "not a device's network card; check for a typo in the first two digits",
        )
    upper = digits.upper()
    return "-".join(upper[i : i + 2] for i in range(0, 12, 2))


def _bad_characters(text: str) -> str:
    """Describe the characters that are neither hex digits nor separators ('' if none)."""
    seen: list[str] = []
    for c in text:
        if c not in _HEX_DIGITS and c not in _SEPARATORS and c not in seen:
            seen.append(c)
    shown = ", ".join("a space" if c == " " else repr(c) for c in seen[:5])
    return shown + (" and more" if len(seen) > 5 else "")


def _invalid(text: str, reason: str) -> InvalidMac:
    shown = text.strip()
    if len(shown) > _SHOWN_MAX:
        shown = shown[: _SHOWN_MAX - 3] + "..."
    forms = ", ".join(ACCEPTED_MAC_FORMS[:-1]) + " or " + ACCEPTED_MAC_FORMS[-1]
    return InvalidMac(f"'{shown}' is not a valid MAC ID: {reason}. Use one of these forms: {forms}.")
