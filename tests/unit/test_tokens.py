"""Token format, checksum, digest and hint: pure functions."""

from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.tokens import token_text

README_REGEX = re.compile(r"pit-[0-9A-Za-z]{49}")


def test_generated_token_has_the_documented_shape_and_enough_entropy() -> None:
    token = token_text.generate()
    assert token.startswith("pit-")
    assert len(token) == 4 + 43 + 6
    assert README_REGEX.fullmatch(token)
    assert token_text.RANDOM_LENGTH * math.log2(62) >= 256
    assert token_text.is_well_formed(token)


def test_tokens_are_unique() -> None:
    assert len({token_text.generate() for _ in range(2000)}) == 2000


def test_digest_is_sha256_hex_and_hint_shows_last_four() -> None:
    token = token_text.generate()
    assert re.fullmatch(r"[0-9a-f]{64}", token_text.digest(token))
    assert token_text.digest(token) != token_text.digest(token_text.generate())
    assert token_text.hint(token) == "pit-…" + token[-4:]


@given(st.integers(min_value=4, max_value=token_text.TOKEN_LENGTH - 1), st.sampled_from(token_text.ALPHABET))
def test_any_single_character_change_fails_the_checksum(position: int, replacement: str) -> None:
    token = token_text.generate()
    mutated = token[:position] + replacement + token[position + 1 :]
    assert token_text.is_well_formed(mutated) == (mutated == token)


@given(st.text(max_size=80))
def test_arbitrary_text_is_not_a_token(text: str) -> None:
    assert not token_text.is_well_formed(text)


def test_malformed_shapes_are_rejected() -> None:
    good = token_text.generate()
    for bad in [
        "",
        "pit-",
        good[:-1],
        good + "a",
        "pat-" + good[4:],
        good.replace("pit-", "PIT-"),
        good[:10] + "-" + good[11:],
    ]:
        assert not token_text.is_well_formed(bad), bad
