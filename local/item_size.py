"""DynamoDB's size of an item, as it bills reads: what one authorization's GetItem costs."""

from __future__ import annotations

import math
from typing import Any

READ_UNIT_BYTES = 4096  # one strongly consistent read unit


def item_bytes(raw: dict[str, Any]) -> int:
    """Attribute names plus values: strings and binary by length, numbers about one byte per two digits
    plus one, booleans and nulls one byte, lists and maps 3 bytes plus one per element (and a map's keys),
    sets their elements (DynamoDB's rules)."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in raw.items())


def _value_bytes(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_bytes(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(key.encode()) + _value_bytes(element) for key, element in inner.items())
    if kind in ("SS", "NS", "BS"):
        return sum(_value_bytes({kind[0]: element}) for element in inner)
    raise ValueError(f"no size rule for {kind}")


def read_units(raw: dict[str, Any]) -> int:
    return math.ceil(item_bytes(raw) / READ_UNIT_BYTES)
