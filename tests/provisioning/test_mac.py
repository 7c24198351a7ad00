"""MAC ID parsing: every accepted form normalizes to one; every rejection says why."""
from __future__ import annotations

import re

import pytest

from provisioning.errors import InvalidMac, ProvisioningError
from provisioning.mac import ACCEPTED_MAC_FORMS, MAC_INPUT_REGEX, parse_mac

CANONICAL = "AA-BB-CC-DD-EE-0F"

ACCEPTED = [
    "AA-BB-CC-DD-EE-0F",
    "aa-bb-cc-dd-ee-0f",
    "AA:BB:CC:DD:EE:0F",
    "aa:bb:cc:dd:ee:0f",
    "AABB.CCDD.EE0F",
    "aabb.ccdd.ee0f",
    "AABBCCDDEE0F",
    "aabbccddee0f",
    "AaBb.cCdD.Ee0f",
    "  AA-BB-CC-DD-EE-0F  ",
    "\tAABBCCDDEE0F\n",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_every_accepted_form_normalizes_to_canonical(text: str) -> None:
    assert parse_mac(text) == CANONICAL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:1a:2b:3c:4d:5e", "00-1A-2B-3C-4D-5E"),
        ("02-00-00-00-00-01", "02-00-00-00-00-01"),  # locally administered unicast is fine
        ("FE-FF-FF-FF-FF-FF", "FE-FF-FF-FF-FF-FF"),  # first octet even: unicast
        ("0000.0000.0001", "00-00-00-00-00-01"),
    ],
)
def test_unicast_edge_values_are_accepted(text: str, expected: str) -> None:
    assert parse_mac(text) == expected


def test_parse_is_idempotent() -> None:
    assert parse_mac(parse_mac("aabb.ccdd.ee0f")) == CANONICAL


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("AA-BB-CC-DD-EE", "10 hex digits"),
        ("AA-BB-CC-DD-EE-0F-11", "14 hex digits"),
        ("AABBCCDDEE0", "11 hex digits"),
        ("AABBCCDDEE0F1", "13 hex digits"),
        ("AABB.CCDD", "8 hex digits"),
        ("GG-BB-CC-DD-EE-0F", "'G'"),
        ("AA-BB-CC-DD-EE-0Z", "'Z'"),
        ("AA BB CC DD EE 0F", "a space"),
        ("AA_BB_CC_DD_EE_0F", "'_'"),
        ("AA-BB-CC-DD-EE-0\u0660", "'\u0660'"),  # an Arabic-Indic zero is not a hex digit
        ("AA-BB:CC-DD-EE-0F", "mixes separators"),
        ("AA:BB:CC:DD:EE.0F", "mixes separators"),
        ("AAB-BCC-DDE-E0F", "wrong places"),
        ("AABBCC-DDEE0F", "wrong places"),
        ("AA.BB.CC.DD.EE.0F", "wrong places"),
        ("AABBCC:DDEE0F", "wrong places"),
        ("AA--BB-CC-DD-EE0F", "wrong places"),
        ("-AA-BB-CC-DD-EE-0F", "wrong places"),
        ("00-00-00-00-00-00", "all zeros"),
        ("000000000000", "all zeros"),
        ("FF-FF-FF-FF-FF-FF", "broadcast"),
        ("ffff.ffff.ffff", "broadcast"),
        ("01-00-5E-00-00-FB", "multicast"),  # IPv4 mDNS group
        ("33:33:00:00:00:01", "multicast"),  # IPv6 multicast
        ("AB-BB-CC-DD-EE-0F", "multicast"),  # a one-digit typo of a valid MAC
    ],
)
def test_rejections_say_why_and_list_the_accepted_forms(text: str, reason: str) -> None:
    with pytest.raises(InvalidMac) as caught:
        parse_mac(text)
    message = caught.value.message
    assert reason in message
    for form in ACCEPTED_MAC_FORMS:
        assert form in message
    assert isinstance(caught.value, ProvisioningError)


def test_long_garbage_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidMac) as caught:
        parse_mac("x" * 500)
    assert len(caught.value.message) < 300
    assert "..." in caught.value.message


def test_bad_characters_are_listed_once_each() -> None:
    with pytest.raises(InvalidMac) as caught:
        parse_mac("GG-GG-CC-DD-EE-0F")
    assert caught.value.message.count("'G'") == 1


def test_accepted_forms_are_themselves_accepted() -> None:
    # The help text's examples must parse (AA is unicast), or the help would lie.
    assert {parse_mac(form) for form in ACCEPTED_MAC_FORMS} == {"AA-BB-CC-DD-EE-FF"}


@pytest.mark.parametrize("text", ACCEPTED)
def test_client_regex_matches_every_accepted_form(text: str) -> None:
    assert re.search(MAC_INPUT_REGEX, text)


@pytest.mark.parametrize(
    "text",
    ["AA-BB:CC-DD-EE-0F", "AA-BB-CC-DD-EE", "AABBCCDDEE0", "GG-BB-CC-DD-EE-0F", "AAB-BCC-DDE-E0F", ""],
)
def test_client_regex_rejects_malformed_text(text: str) -> None:
    assert re.search(MAC_INPUT_REGEX, text) is None
