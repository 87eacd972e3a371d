"""An integration's IP allowlist on the write path: what a body may hold and how a token item keeps it.

The authorizer never imports this module (its matcher, address_match.py, is the small read side).

- `normalise`: the entries an owner sends (IPv4 or IPv6 addresses or CIDR blocks), as stored and shown:
  host bits cleared (`10.1.2.3/8` is `10.0.0.0/8`), an IPv4-mapped IPv6 entry is its IPv4 form
  (`::ffff:192.0.2.0/120` is `192.0.2.0/24`), a single address without its `/32` or `/128`, duplicates
  dropped; or a problem naming each bad entry.
- `pack`: the token item's copy, in address_match.py's format, so the authorizer's one GetItem
  carries it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from chalicelib.tokens.address_match import MODE_BYTES

MAX_ENTRIES = 50
ENFORCE, REPORT = "enforce", "report"
MODES = (ENFORCE, REPORT)
_ENTRY_MAX_CHARS = 64  # the longest IPv6 block in any spelling is 43 characters (a mapped one 49)
EXAMPLES = "e.g. 203.0.113.7, 203.0.113.0/24, 2001:db8::/32"


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _entry(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | str:
    """The network an entry names, or what is wrong with it."""
    address_text, slash, prefix_text = text.partition("/")
    if "%" in address_text:
        return "an address with a zone (%...) cannot be matched against a remote caller; remove the zone"
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        return f"{_shown(address_text)} is not an IPv4 or IPv6 address ({EXAMPLES})"
    longest: int = address.max_prefixlen
    if not slash:
        prefix = longest
    elif not prefix_text.isascii() or not prefix_text.isdigit() or len(prefix_text) > 3:
        got = _shown(prefix_text)
        return f"the prefix length after '/' must be a whole number from 0 to {longest}, got {got}"
    else:
        prefix = int(prefix_text)
        if prefix > longest:
            kind = "IPv4" if address.version == 4 else "IPv6"
            return f"the prefix /{prefix} is longer than an {kind} address (at most /{longest})"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None and prefix >= 96:
        return ipaddress.IPv4Network((address.ipv4_mapped, prefix - 96), strict=False)
    return ipaddress.ip_network((address, prefix), strict=False)


def _text(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def normalise(value: Any, field: str = "allowedIps") -> tuple[list[str], list[str]]:
    """(the entries as stored, problems: one per bad entry, each naming it by position and value)."""
    if not isinstance(value, list):
        return [], [
            f"{field} must be a list of at most {MAX_ENTRIES} IPv4 or IPv6 addresses or CIDR blocks "
            f"({EXAMPLES}; [] allows any address), got {_shown(value)}"
        ]
    if len(value) > MAX_ENTRIES:
        return [], [
            f"{field} holds {len(value)} entries: at most {MAX_ENTRIES} are allowed (use CIDR blocks)"
        ]
    kept: list[str] = []
    problems: list[str] = []
    for index, entry in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(entry, str):
            problems.append(f"{where} must be a string ({EXAMPLES}), got {_shown(entry)}")
            continue
        text = entry.strip()
        if not text or len(text) > _ENTRY_MAX_CHARS:
            problems.append(
                f"{where} must be an IPv4 or IPv6 address or CIDR block ({EXAMPLES}), got {_shown(entry)}"
            )
            continue
        found = _entry(text)
        if isinstance(found, str):
            problems.append(f"{where} ({_shown(entry)}): {found}")
        elif _text(found) not in kept:
            kept.append(_text(found))
    return kept, problems


def mode_problems(value: Any, field: str = "ipRestriction") -> list[str]:
    if isinstance(value, str) and value in MODES:
        return []
    return [
        f"{field} must be 'enforce' (refuse other addresses) or 'report' (let them in and count them), "
        f"got {_shown(value)}"
    ]


def pack(mode: str, entries: list[str]) -> bytes | None:
    """The token item's copy of normalised `entries` (None: no list, any address)."""
    if not entries:
        return None
    packed = bytearray(MODE_BYTES[mode])
    for entry in entries:
        network = ipaddress.ip_network(entry)
        covered = (network.prefixlen + 7) // 8  # the bytes after these are zero (host bits cleared)
        packed += bytes((network.version, network.prefixlen)) + network.network_address.packed[:covered]
    return bytes(packed)
