"""Token format, checksum, digest and hint: pure functions."""

from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.tokens import format as tokens

README_REGEX = re.compile(r"pit-[0-9A-Za-z]{49}")


def test_generated_token_has_the_documented_shape_and_enough_entropy() -> None:
    token = tokens.generate()
    assert token.startswith("pit-")
    assert len(token) == 4 + 43 + 6
    assert README_REGEX.fullmatch(token)
    assert tokens.RANDOM_LENGTH * math.log2(62) >= 256
    assert tokens.is_well_formed(token)


def test_tokens_are_unique() -> None:
    assert len({tokens.generate() for _ in range(2000)}) == 2000


def test_digest_is_sha256_hex_and_hint_shows_last_four() -> None:
    token = tokens.generate()
    assert re.fullmatch(r"[0-9a-f]{64}", tokens.digest(token))
    assert tokens.digest(token) != tokens.digest(tokens.generate())
    assert tokens.hint(token) == "pit-…" + token[-4:]


@given(st.integers(min_value=4, max_value=tokens.TOKEN_LENGTH - 1), st.sampled_from(tokens.ALPHABET))
def test_any_single_character_change_fails_the_checksum(position: int, replacement: str) -> None:
    token = tokens.generate()
    mutated = token[:position] + replacement + token[position + 1 :]
    assert tokens.is_well_formed(mutated) == (mutated == token)


@given(st.text(max_size=80))
def test_arbitrary_text_is_not_a_token(text: str) -> None:
    assert not tokens.is_well_formed(text)


def test_malformed_shapes_are_rejected() -> None:
    good = tokens.generate()
    for bad in [
        "",
        "pit-",
        good[:-1],
        good + "a",
        "pat-" + good[4:],
        good.replace("pit-", "PIT-"),
        good[:10] + "-" + good[11:],
    ]:
        assert not tokens.is_well_formed(bad), bad
