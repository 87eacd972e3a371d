"""Private Integration tokens: format, checksum, hashing and hint. Pure functions, no I/O.

Format: "pit-" + 43 base62 characters from `secrets` (43 * log2(62) = 256.03 bits)
        + 6 base62 characters of the CRC32 of the random part (zero-padded).
The checksum lets the authorizer (and secret scanners) reject a mistyped or made-up token
without touching the database. Only the SHA-256 hex digest is ever stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib

PREFIX = "pit-"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 43
CHECKSUM_LENGTH = 6
TOKEN_LENGTH = len(PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
# The regex published in docs/secret-scanning.md for secret scanners.
TOKEN_PATTERN = re.compile(r"\Apit-[0-9A-Za-z]{43}[0-9A-Za-z]{6}\Z")
_INDEX = {char: i for i, char in enumerate(ALPHABET)}


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def generate() -> str:
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return PREFIX + random_part + checksum(random_part)


def is_well_formed(token: str) -> bool:
    """Shape and checksum only: True means it is worth one database read."""
    if len(token) != TOKEN_LENGTH or not TOKEN_PATTERN.match(token):
        return False
    random_part = token[len(PREFIX) : len(PREFIX) + RANDOM_LENGTH]
    return secrets.compare_digest(checksum(random_part), token[-CHECKSUM_LENGTH:])


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def hint(token: str) -> str:
    return "pit-…" + token[-4:]
