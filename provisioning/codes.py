"""Secrets the provisioning flow hands out: verification codes, user codes, tokens.

- Verification codes: 12 digits (about 40 bits), typeable on a phone keypad, shown as
  `1234-5678-9012`; input ignores spaces and dashes.
- RFC 8628 user codes: 8 characters from the section 6.1 alphabet (no vowels, no
  look-alikes), shown as `XXXX-XXXX`; input is case-insensitive, dashes ignored.
- Device codes, device tokens and access tokens: URL-safe random strings. Device tokens
  are stored only as their SHA-256 hash; a pending grant's device code is kept as issued
  (the device reads it back from /api/devices/me) and compared in constant time.

Everything random comes from `secrets`; every comparison is constant time. Nothing here
logs, and no error message repeats a code.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

VERIFICATION_CODE_DIGITS = 12
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8

_ASCII_DIGITS = frozenset("0123456789")
# What people type between groups: dashes from phone keyboards and word processors too.
_IGNORED = frozenset(" -\u2010\u2011\u2012\u2013\u2014\u2212")


def generate_verification_code() -> str:
    """Return 12 uniformly random digits (leading zeros kept), without dashes."""
    return f"{secrets.randbelow(10**VERIFICATION_CODE_DIGITS):0{VERIFICATION_CODE_DIGITS}d}"


def format_verification_code(value: str) -> str:
    """Show a code as `1234-5678-9012`. Raises ValueError if it is not a 12-digit code."""
    digits = normalize_verification_code(value)
    if digits is None:
        # The value is a secret: say what is wrong, never what it was.
        raise ValueError(f"not a {VERIFICATION_CODE_DIGITS}-digit verification code")
    return "-".join(digits[i : i + 4] for i in range(0, VERIFICATION_CODE_DIGITS, 4))


def normalize_verification_code(text: str) -> str | None:
    """Return the 12 plain digits of typed input, or None unless it is exactly 12 digits."""
    if not isinstance(text, str):
        return None
    kept = _strip_ignored(text)
    if len(kept) != VERIFICATION_CODE_DIGITS or not set(kept) <= _ASCII_DIGITS:
        return None
    return kept


def verification_codes_match(given: str, expected: str) -> bool:
    """True if `given` (typed) is the `expected` code; constant time, False for bad input."""
    given_digits = normalize_verification_code(given)
    expected_digits = normalize_verification_code(expected)
    if given_digits is None or expected_digits is None:
        return False
    return hmac.compare_digest(given_digits.encode("ascii"), expected_digits.encode("ascii"))


def generate_user_code() -> str:
    """Return an RFC 8628 user code: 8 characters from `USER_CODE_ALPHABET`, no dash."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def format_user_code(value: str) -> str:
    """Show a user code as `XXXX-XXXX`. Raises ValueError if it is not a valid user code."""
    code = normalize_user_code(value)
    if code is None:
        raise ValueError(
            f"not a user code: {USER_CODE_LENGTH} characters from {USER_CODE_ALPHABET}"
        )
    half = USER_CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def normalize_user_code(text: str) -> str | None:
    """Return the 8 upper-case characters of typed input, or None if it is not a user code."""
    if not isinstance(text, str):
        return None
    kept = _strip_ignored(text).upper()
    if len(kept) != USER_CODE_LENGTH or not set(kept) <= set(USER_CODE_ALPHABET):
        return None
    return kept


def generate_secret(nbytes: int = 32) -> str:
    """Return a URL-safe random secret of `nbytes` random bytes (device codes, tokens)."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """Return the SHA-256 hex digest to store in place of `secret`.

    A plain fast hash is enough: the secrets are 256 random bits, so there is nothing for
    a slow, salted password hash to protect against.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, expected_hash: str) -> bool:
    """True if `secret` hashes to `expected_hash`; constant time, False for bad input."""
    if not isinstance(secret, str) or not isinstance(expected_hash, str):
        return False
    if not secret.isascii() or not expected_hash.isascii():
        return False  # every secret we issue is ASCII; anything else is not one of ours
    return hmac.compare_digest(hash_secret(secret).encode("ascii"), expected_hash.encode("ascii"))


def _strip_ignored(text: str) -> str:
    return "".join(c for c in text if c not in _IGNORED and not c.isspace())
