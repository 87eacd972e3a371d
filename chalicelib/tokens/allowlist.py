"""An integration's IP allowlist: what a body may hold, how a token item keeps it, who is inside it.

Standard library only (`ipaddress`, which botocore's import has already loaded on the authorizer's cold
start): the authorizer imports this module on every cold start.

- `normalise`: the entries an owner sends (IPv4 or IPv6 addresses or CIDR blocks), as stored and shown:
  host bits cleared (`10.1.2.3/8` is `10.0.0.0/8`), an IPv4-mapped IPv6 entry is its IPv4 form
  (`::ffff:192.0.2.0/120` is `192.0.2.0/24`), a single address without its `/32` or `/128`, duplicates
  dropped; or a problem naming each bad entry.
- `pack` / `unpack`: the token item's copy, packed (a mode byte, then per entry its version, its prefix
  length and the network's leading bytes the prefix covers: 5 bytes for an IPv4 /24, 10 for an IPv6
  /64, at most 18; 50 IPv6 /64 blocks take 501 bytes), so the authorizer's one GetItem carries it and
  matching is integer arithmetic, no parsing of the list.
- `outside`: whether a caller's address is outside the list (a mapped caller address is inside an IPv4
  entry holding its IPv4 address, as mapped entries are stored, or an IPv6 entry holding it).
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any, NamedTuple

MAX_ENTRIES = 50
ENFORCE, REPORT = "enforce", "report"
MODES = (ENFORCE, REPORT)
_MODE_BYTES = {ENFORCE: b"e", REPORT: b"r"}
_ENTRY_MAX_CHARS = 64  # the longest IPv6 block in any spelling is 43 characters (a mapped one 49)
EXAMPLES = "e.g. 203.0.113.7, 203.0.113.0/24, 2001:db8::/32"

Network = tuple[int, int, int]  # (IP version, network as an integer, mask as an integer)


class Allowlist(NamedTuple):
    """A token's list as the authorizer reads it: `report` True means outside callers are let in and
    marked, not refused."""

    report: bool
    networks: tuple[Network, ...]


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
    packed = bytearray(_MODE_BYTES[mode])
    for entry in entries:
        network = ipaddress.ip_network(entry)
        covered = (network.prefixlen + 7) // 8  # the bytes after these are zero (host bits cleared)
        packed += bytes((network.version, network.prefixlen)) + network.network_address.packed[:covered]
    return bytes(packed)


@functools.lru_cache(maxsize=1024)
def unpack(blob: bytes) -> Allowlist:
    """The inverse of `pack`; ValueError for bytes it did not write (the caller fails closed)."""
    if not blob or blob[:1] not in (b"e", b"r"):
        raise ValueError("not a packed allowlist")
    networks: list[Network] = []
    at = 1
    while at < len(blob):
        version, prefix = blob[at], blob[at + 1] if at + 1 < len(blob) else -1
        width = 32 if version == 4 else 128 if version == 6 else 0
        end = at + 2 + (prefix + 7) // 8
        if not width or not 0 <= prefix <= width or end > len(blob):
            raise ValueError("not a packed allowlist")
        mask = ((1 << width) - 1) ^ ((1 << (width - prefix)) - 1)
        leading = blob[at + 2 : end]
        network = int.from_bytes(leading, "big") << (width - 8 * len(leading))
        networks.append((version, network & mask, mask))
        at = end
    return Allowlist(blob[:1] == b"r", tuple(networks))


def caller(source_ip: str | None) -> tuple[tuple[int, int], ...] | None:
    """The caller as (version, address as an integer) pairs: one, or for an IPv4-mapped IPv6 address its
    IPv4 form and its IPv6 form (inside `::/0`, say, as much as inside `0.0.0.0/0`); None when there is
    no (valid) address."""
    if not source_ip or "%" in source_ip:  # a zone names a local link, never a remote caller
        return None
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return (4, int(address.ipv4_mapped)), (6, int(address))
    return ((address.version, int(address)),)


def outside(allowlist: Allowlist, source_ip: str | None) -> bool:
    """True when the caller is not inside any entry (an unknown address is outside every list)."""
    found = caller(source_ip)
    if found is None:
        return True
    return not any(
        v == version and number & mask == net
        for version, number in found
        for v, net, mask in allowlist.networks
    )
