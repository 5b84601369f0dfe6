"""Opaque, filter-bound page tokens."""

from __future__ import annotations

import pytest

from services.runtime.errors import InvalidArgument
from services.runtime.pagination import clamp_page_size, decode_page_token, encode_page_token


def test_a_token_returns_its_position_with_the_same_filters() -> None:
    token = encode_page_token(["2020-01-01", "abc"], {"kind": "train"})
    assert decode_page_token(token, {"kind": "train"}) == ["2020-01-01", "abc"]
    assert decode_page_token("", {"kind": "train"}) is None


def test_a_token_is_refused_with_other_filters_or_when_forged() -> None:
    token = encode_page_token("AAPL", {"prefix": "A"})
    with pytest.raises(InvalidArgument, match="different filters"):
        decode_page_token(token, {"prefix": "B"})
    for forged in ("%%%", "e30", token[:-3]):
        with pytest.raises(InvalidArgument):
            decode_page_token(forged, {"prefix": "A"})


def test_page_sizes_default_and_clamp() -> None:
    assert clamp_page_size(0, default=100, maximum=1000) == 100
    assert clamp_page_size(5000, default=100, maximum=1000) == 1000
    with pytest.raises(InvalidArgument):
        clamp_page_size(-1, default=100, maximum=1000)
