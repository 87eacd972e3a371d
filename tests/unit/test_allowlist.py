"""The IP allowlist: what an owner may send and how it is normalised and packed (tokens/allowlist.py),
and the authorizer's matcher (tokens/address_match.py), checked against Python's `ipaddress`."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.tokens import address_match, allowlist


def listed(entries: list[str], mode: str = allowlist.ENFORCE) -> address_match.Allowlist:
    normalised, problems = allowlist.normalise(entries)
    assert problems == []
    packed = allowlist.pack(mode, normalised)
    assert packed is not None
    return address_match.unpack(packed)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.7/32", "203.0.113.7"),
        (" 203.0.113.0/24 ", "203.0.113.0/24"),
        ("10.1.2.3/8", "10.0.0.0/8"),  # host bits cleared
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("2001:db8::1/128", "2001:db8::1"),
        ("2001:db8::1/32", "2001:db8::/32"),
        ("::/0", "::/0"),
        ("::ffff:192.0.2.1", "192.0.2.1"),  # IPv4-mapped IPv6: its IPv4 address
        ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
        ("::ffff:c000:0201", "192.0.2.1"),
    ],
)
def test_entries_are_normalised(sent: str, stored: str) -> None:
    assert allowlist.normalise([sent]) == ([stored], [])


def test_duplicates_after_normalising_are_kept_once_in_order() -> None:
    sent = ["10.0.0.1", "2001:db8::/48", "10.0.0.1/32", "::ffff:10.0.0.1"]
    assert allowlist.normalise(sent) == (["10.0.0.1", "2001:db8::/48"], [])


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("10.0.0.1", "allowedIps must be a list"),
        (None, "allowedIps must be a list"),
        ({"ip": "10.0.0.1"}, "allowedIps must be a list"),
        (["10.0.0.256"], "allowedIps[0] ('10.0.0.256'): '10.0.0.256' is not an IPv4 or IPv6 address"),
        (["10.0.0.0/33"], "allowedIps[0] ('10.0.0.0/33'): the prefix /33 is longer than an IPv4 address"),
        (["2001:db8::/129"], "the prefix /129 is longer than an IPv6 address (at most /128)"),
        (["10.0.0.0/x"], "the prefix length after '/' must be a whole number from 0 to 32, got 'x'"),
        (["10.0.0.0/"], "the prefix length after '/' must be a whole number"),
        (["10.0.0.0/-1"], "the prefix length after '/' must be a whole number"),
        (["10.0.0.0/\uff12"], "the prefix length after '/' must be a whole number"),  # a non-ASCII digit
        (["fe80::1%eth0"], "allowedIps[0] ('fe80::1%eth0'): an address with a zone"),
        (["example.com"], "'example.com' is not an IPv4 or IPv6 address"),
        ([""], "allowedIps[0] must be an IPv4 or IPv6 address or CIDR block"),
        ([7], "allowedIps[0] must be a string"),
        (["1" * 65], "allowedIps[0] must be an IPv4 or IPv6 address or CIDR block"),
    ],
)
def test_bad_entries_are_named(value: Any, says: str) -> None:
    normalised, problems = allowlist.normalise(value)
    assert normalised == [] and len(problems) == 1 and says in problems[0], problems


def test_every_bad_entry_is_named_by_position() -> None:
    _, problems = allowlist.normalise(["10.0.0.1", "nope", "10.0.0.0/8", "1.2.3.4/40"])
    assert [problem.split(" ", 1)[0] for problem in problems] == ["allowedIps[1]", "allowedIps[3]"]


def test_at_most_fifty_entries() -> None:
    fifty = [f"10.0.0.{n}" for n in range(50)]
    assert allowlist.normalise(fifty) == (fifty, [])
    _, problems = allowlist.normalise([*fifty, "10.0.1.0"])
    assert problems == ["allowedIps holds 51 entries: at most 50 are allowed (use CIDR blocks)"]


def test_modes() -> None:
    assert allowlist.mode_problems("enforce") == [] and allowlist.mode_problems("report") == []
    for bad in ("Enforce", "off", None, 1):
        assert "ipRestriction must be 'enforce'" in allowlist.mode_problems(bad)[0]


@pytest.mark.parametrize(
    ("entries", "inside", "outside"),
    [
        (["203.0.113.7"], ["203.0.113.7", "::ffff:203.0.113.7"], ["203.0.113.8", "2001:db8::1"]),
        (["203.0.113.0/24"], ["203.0.113.0", "203.0.113.255"], ["203.0.114.0", "203.0.112.255"]),
        (["0.0.0.0/0"], ["1.2.3.4", "255.255.255.255", "::ffff:8.8.8.8"], ["2001:db8::1", "::1"]),
        (["::/0"], ["2001:db8::1", "::1", "::ffff:1.2.3.4"], ["1.2.3.4"]),
        (["2001:db8::/32"], ["2001:db8::", "2001:db8:ffff:ffff::1"], ["2001:db9::1", "10.0.0.1"]),
        (["2001:db8::1/128"], ["2001:db8::1", "2001:DB8:0::1"], ["2001:db8::2"]),
        (["::ffff:10.0.0.0/104"], ["10.1.2.3", "::ffff:10.255.0.1"], ["11.0.0.0"]),
        (["10.0.0.1", "2001:db8::/64"], ["10.0.0.1", "2001:db8::abcd"], ["10.0.0.2", "2001:db8:0:1::1"]),
    ],
)
def test_matching(entries: list[str], inside: list[str], outside: list[str]) -> None:
    found = listed(entries)
    for address in inside:
        assert not address_match.outside(found, address), address
    for address in outside:
        assert address_match.outside(found, address), address


def test_no_or_a_bad_caller_address_is_outside_every_list() -> None:
    found = listed(["0.0.0.0/0", "::/0"])
    for address in (None, "", "unknown", "10.0.0.1, 10.0.0.2", "fe80::1%eth0x"):
        assert address_match.outside(found, address)


def test_packing_keeps_the_mode_and_stays_small() -> None:
    assert allowlist.pack(allowlist.ENFORCE, []) is None
    assert listed(["10.0.0.1"], allowlist.REPORT)[0] is True
    assert listed(["10.0.0.1"])[0] is False
    blocks = [f"2001:db8:{n:x}::/64" for n in range(50)]
    packed = allowlist.pack(allowlist.ENFORCE, allowlist.normalise(blocks)[0])
    assert packed is not None and len(packed) == 1 + 50 * 10  # version, prefix, the 8 bytes it covers
    hosts = [f"2001:db8::{n:x}" for n in range(50)]
    packed = allowlist.pack(allowlist.ENFORCE, allowlist.normalise(hosts)[0])
    assert packed is not None and len(packed) == 1 + 50 * 18
    assert allowlist.pack(allowlist.ENFORCE, ["0.0.0.0/0"]) == b"e\x04\x00"


@pytest.mark.parametrize(
    "blob", [b"", b"x", b"e\x04", b"e\x04\x21\x00\x00\x00\x00\x00", b"e\x05\x00", b"e\x04\x10\x0a"]
)
def test_bytes_it_did_not_write_are_refused(blob: bytes) -> None:
    with pytest.raises(ValueError, match="not a packed allowlist"):
        address_match.unpack(blob)


v4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
v6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)
mapped = v4.map(lambda a: ipaddress.IPv6Address(int(a) | 0xFFFF00000000))
addresses = st.one_of(v4, v6, mapped)


@st.composite
def entries(draw: st.DrawFn) -> str:
    address = draw(addresses)
    prefix = draw(st.integers(0, address.max_prefixlen))
    return f"{address}/{prefix}" if draw(st.booleans()) else str(address)


def oracle(entry_texts: list[str], caller: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Inside, by `ipaddress` itself: a mapped entry (/96 or longer) is its IPv4 block; a mapped caller
    is inside an IPv4 block holding its IPv4 address or an IPv6 block holding it."""
    who = [caller]
    if caller.version == 6 and caller.ipv4_mapped is not None:
        who.append(caller.ipv4_mapped)
    for text in entry_texts:
        address_text, _, prefix_text = text.partition("/")
        address = ipaddress.ip_address(address_text)
        prefix = int(prefix_text) if prefix_text else address.max_prefixlen
        if address.version == 6 and address.ipv4_mapped is not None and prefix >= 96:
            network: Any = ipaddress.ip_network((address.ipv4_mapped, prefix - 96), strict=False)
        else:
            network = ipaddress.ip_network((address, prefix), strict=False)
        if any(one.version == network.version and one in network for one in who):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(st.lists(entries(), min_size=1, max_size=8), addresses)
def test_the_matcher_agrees_with_ipaddress(sent: list[str], caller: Any) -> None:
    assert address_match.outside(listed(sent), str(caller)) is not oracle(sent, caller)


@settings(max_examples=200, deadline=None)
@given(st.lists(entries(), min_size=1, max_size=8))
def test_every_entry_admits_its_own_network(sent: list[str]) -> None:
    """An address written in an entry is always inside the stored list (normalising loses nothing)."""
    found = listed(sent)
    for text in sent:
        assert not address_match.outside(found, text.partition("/")[0])


@settings(max_examples=200, deadline=None)
@given(st.lists(entries(), min_size=1, max_size=8))
def test_normalising_is_idempotent(sent: list[str]) -> None:
    once, _ = allowlist.normalise(sent)
    assert allowlist.normalise(once) == (once, [])
