"""Verification codes, RFC 8628 user codes and hashed secrets."""
from __future__ import annotations

import hmac
import secrets
import string
from collections import Counter

import pytest

from provisioning.codes import (
    USER_CODE_ALPHABET,
    VERIFICATION_CODE_DIGITS,
    format_user_code,
    format_verification_code,
    generate_secret,
    generate_user_code,
    generate_verification_code,
    hash_secret,
    normalize_user_code,
    normalize_verification_code,
    secret_matches,
    verification_codes_match,
)

SAMPLES = 2000

# --- verification codes -------------------------------------------------------------


def test_verification_code_is_twelve_ascii_digits() -> None:
    assert VERIFICATION_CODE_DIGITS == 12
    for _ in range(200):
        code = generate_verification_code()
        assert len(code) == 12
        assert set(code) <= set(string.digits)


def test_verification_code_keeps_leading_zeros(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "randbelow", lambda n: 42)
    assert generate_verification_code() == "000000000042"


def test_verification_codes_are_uniform_over_digits_and_positions() -> None:
    generated = [generate_verification_code() for _ in range(SAMPLES)]
    assert len(set(generated)) == SAMPLES  # 2000 draws from 10^12: a repeat means a bug
    for position in range(12):
        counts = Counter(code[position] for code in generated)
        assert set(counts) == set(string.digits)
        # Expected 200 each, standard deviation ~13: these bounds are ~7 sigma away.
        assert all(100 < n < 300 for n in counts.values()), (position, counts)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("123456789012", "1234-5678-9012"),
        ("000000000000", "0000-0000-0000"),
        ("1234-5678-9012", "1234-5678-9012"),
        (" 1234 5678 9012 ", "1234-5678-9012"),
    ],
)
def test_format_verification_code(value: str, shown: str) -> None:
    assert format_verification_code(value) == shown


@pytest.mark.parametrize("value", ["", "12345678901", "1234567890123", "12345678901a"])
def test_format_refuses_non_codes_without_echoing_them(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        format_verification_code(value)
    if value:
        assert value not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("123456789012", "123456789012"),
        ("1234-5678-9012", "123456789012"),
        ("1234 5678 9012", "123456789012"),
        ("  1234-5678 - 9012\n", "123456789012"),
        ("1-2-3-4-5-6-7-8-9-0-1-2", "123456789012"),
        ("1234\u20135678\u20149012", "123456789012"),  # en and em dashes from a document
        ("1234\u00a05678\u00a09012", "123456789012"),  # non-breaking spaces
        ("000000000000", "000000000000"),
    ],
)
def test_normalize_verification_code_ignores_spaces_and_dashes(text: str, digits: str) -> None:
    assert normalize_verification_code(text) == digits


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "12345678901",  # 11 digits
        "1234567890123",  # 13 digits
        "1234-5678-901",
        "1234-5678-901O",  # letter O for zero
        "abcdefghijkl",
        "1234.5678.9012",  # dots are not ignored
        "1234_5678_9012",
        "+123456789012",
        "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661\u0662",  # Arabic-Indic
        "\uff11" * 12,  # full-width digits
    ],
)
def test_normalize_verification_code_rejects_everything_else(text: str) -> None:
    assert normalize_verification_code(text) is None


def test_normalize_verification_code_rejects_non_strings() -> None:
    assert normalize_verification_code(None) is None  # type: ignore[arg-type]
    assert normalize_verification_code(123456789012) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "expected", "match"),
    [
        ("123456789012", "123456789012", True),
        ("1234-5678-9012", "123456789012", True),
        ("1234 5678 9012", "1234-5678-9012", True),
        ("123456789013", "123456789012", False),
        ("023456789012", "123456789012", False),
        ("12345678901", "123456789012", False),
        ("1234567890123", "123456789012", False),
        ("12345678901a", "123456789012", False),
        ("", "123456789012", False),
        ("", "", False),  # two empty strings are not a match
        ("abc", "abc", False),  # nor two equal invalid values
        (None, "123456789012", False),
        ("123456789012", None, False),
    ],
)
def test_verification_codes_match(given: str, expected: str, match: bool) -> None:
    assert verification_codes_match(given, expected) is match


def test_verification_codes_match_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert verification_codes_match("1234-5678-9012", "123456789012")
    assert calls == [(b"123456789012", b"123456789012")]


# --- RFC 8628 user codes -------------------------------------------------------------


def test_user_code_alphabet_is_rfc8628_section_6_1() -> None:
    assert USER_CODE_ALPHABET == "BCDFGHJKLMNPQRSTVWXZ"
    assert len(set(USER_CODE_ALPHABET)) == 20
    assert not set(USER_CODE_ALPHABET) & set("AEIOUY0123456789")


def test_user_codes_are_eight_alphabet_characters_and_uniform() -> None:
    generated = [generate_user_code() for _ in range(SAMPLES)]
    assert all(len(code) == 8 for code in generated)
    assert all(set(code) <= set(USER_CODE_ALPHABET) for code in generated)
    assert len(set(generated)) == SAMPLES
    counts = Counter("".join(generated))
    assert set(counts) == set(USER_CODE_ALPHABET)
    # Expected 800 each, standard deviation ~28: these bounds are ~7 sigma away.
    assert all(600 < n < 1000 for n in counts.values()), counts


@pytest.mark.parametrize(
    ("value", "shown"),
    [("BCDFGHJK", "BCDF-GHJK"), ("bcdfghjk", "BCDF-GHJK"), ("WXZB-CDFG", "WXZB-CDFG")],
)
def test_format_user_code(value: str, shown: str) -> None:
    assert format_user_code(value) == shown


@pytest.mark.parametrize("value", ["", "BCDFGHJ", "BCDFGHJKL", "ABCDEFGH", "BCDF1HJK"])
def test_format_user_code_refuses_non_codes(value: str) -> None:
    with pytest.raises(ValueError):
        format_user_code(value)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("BCDFGHJK", "BCDFGHJK"),
        ("BCDF-GHJK", "BCDFGHJK"),
        ("bcdf-ghjk", "BCDFGHJK"),
        ("bCdF gHjK", "BCDFGHJK"),
        ("  wxzb-cdfg \n", "WXZBCDFG"),
        ("B-C-D-F-G-H-J-K", "BCDFGHJK"),
    ],
)
def test_normalize_user_code(text: str, code: str) -> None:
    assert normalize_user_code(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "",
        "BCDFGHJ",  # 7
        "BCDFGHJKL",  # 9
        "BCDF-GHJA",  # vowel
        "BCDF-GHJ0",  # digit
        "BCDF_GHJK",
        "BCDF.GHJK",
        None,
    ],
)
def test_normalize_user_code_rejects_everything_else(text: str) -> None:
    assert normalize_user_code(text) is None


# --- secrets and their hashes --------------------------------------------------------


def test_generate_secret_is_url_safe_and_sized() -> None:
    url_safe = set(string.ascii_letters + string.digits + "-_")
    secret = generate_secret()
    assert set(secret) <= url_safe
    assert len(secret) == 43  # 32 bytes, base64 without padding
    assert len(generate_secret(16)) == 22
    assert len({generate_secret() for _ in range(200)}) == 200


def test_hash_secret_is_sha256_hex() -> None:
    assert hash_secret("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    secret = generate_secret()
    assert hash_secret(secret) == hash_secret(secret)
    assert secret not in hash_secret(secret)


@pytest.mark.parametrize(
    ("secret", "stored", "match"),
    [
        ("token-1", hash_secret("token-1"), True),
        ("token-2", hash_secret("token-1"), False),
        ("token-1", hash_secret("token-1").upper(), False),
        ("token-1", "token-1", False),  # the clear value is not its hash
        ("", hash_secret("token-1"), False),
        ("token-1", "", False),
        (None, hash_secret("token-1"), False),
        ("token-1", None, False),
        ("token-1", "\u00e9" * 64, False),  # non-ASCII stored value does not raise
    ],
)
def test_secret_matches(secret: str, stored: str, match: bool) -> None:
    assert secret_matches(secret, stored) is match
