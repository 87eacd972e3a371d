"""Paging parameters shared by every paged list (audit feeds, contacts): parsed the same way everywhere."""

from __future__ import annotations


def limit_param(params: dict[str, str], default: int, maximum: int) -> tuple[int, list[str]]:
    """`?limit=` as a whole number from 1 to `maximum`: (limit, problems to report)."""
    raw = params.get("limit", str(default))
    # ASCII digits only: str.isdigit() also accepts '²' and other digits that int() refuses.
    if raw.isascii() and raw.isdigit() and len(raw) <= 6 and 1 <= int(raw) <= maximum:
        return int(raw), []
    return default, [f"limit must be a whole number from 1 to {maximum}"]
