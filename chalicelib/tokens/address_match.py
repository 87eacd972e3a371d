"""The authorizer's side of an IP allowlist: the token item's packed copy -> who is inside it.

Small on purpose (compiled from source on every cold authorizer): standard library only, and `ipaddress`
is loaded by botocore's import already. The write side (normalising entries, packing) is allowlist.py.

Packed: a mode byte (`e` enforce, `r` report), then per entry its IP version (4 or 6), its prefix length
and only the leading network bytes the prefix covers (the rest are zero): 5 bytes for an IPv4 /24, 10 for
an IPv6 /64, at most 18. A caller's IPv4-mapped IPv6 address is inside an IPv4 entry holding its IPv4
address (mapped entries are stored as IPv4) or an IPv6 entry holding it.
"""

from __future__ import annotations

import functools
import ipaddress

MODE_BYTES = {"enforce": b"e", "report": b"r"}
Network = tuple[int, int, int]  # (IP version, network as an integer, mask as an integer)
Allowlist = tuple[bool, tuple[Network, ...]]  # (report mode, networks)


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
    return blob[:1] == b"r", tuple(networks)


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


def outside(listed: Allowlist, source_ip: str | None) -> bool:
    """True when the caller is not inside any entry (an unknown address is outside every list)."""
    found = caller(source_ip)
    if found is None:
        return True
    return not any(
        v == version and number & mask == net
        for version, number in found
        for v, net, mask in listed[1]
    )
