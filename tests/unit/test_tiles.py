"""Tile paths and shapes as c2sp.org/tlog-tiles gives them, from the spec's own examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.transparency.tiles import (
    TileAddress,
    TilePathError,
    decode_entry_bundle,
    encode_entry_bundle,
    encode_index,
    parse_tile_path,
    tiles_of_tree,
)


def test_the_spec_s_index_example() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert parse_tile_path("0/x001/x234/067") == TileAddress(0, 1234067)


@pytest.mark.parametrize(
    ("index", "path"), [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000")]
)
def test_indexes_are_three_digit_groups(index: int, path: str) -> None:
    assert encode_index(index) == path


def test_a_tree_of_70000_leaves_has_the_tiles_the_spec_lists() -> None:
    tiles = tiles_of_tree(70_000)
    level_0 = [t for t in tiles if t.level == 0]
    assert sum(t.is_full for t in level_0) == 273
    assert [t.width for t in level_0 if not t.is_full] == [112]
    assert [(t.is_full, t.width) for t in tiles if t.level == 1] == [(True, 256), (False, 17)]
    assert [t.path() for t in tiles if t.level == 2] == ["tile/2/000.p/1"]


def test_a_tree_of_256_leaves_has_a_full_tile_and_a_level_1_tile_of_width_1() -> None:
    assert [t.path() for t in tiles_of_tree(256)] == ["tile/0/000", "tile/1/000.p/1"]


def test_partial_tiles_and_entry_bundles_parse() -> None:
    assert parse_tile_path("entries/x001/234.p/17") == TileAddress(None, 1234, 17)
    assert parse_tile_path("3/000.p/255").leaves_needed() == 255 * 256**3


@pytest.mark.parametrize(
    "path",
    [
        "0/1",
        "0/x000/001",
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/07",
        "64/000",
        "01/000",
        "0/001/002",
        "entries",
        "0/-01",
    ],
)
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(TilePathError):
        parse_tile_path(path)


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=1, max_value=256))
def test_every_path_parses_back_to_its_tile(index: int, width: int) -> None:
    for level in (None, 0, 5):
        tile = TileAddress(level, index, width)
        assert parse_tile_path(tile.path().removeprefix("tile/")) == tile


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_entry_bundles_round_trip(entries: list[bytes]) -> None:
    assert decode_entry_bundle(encode_entry_bundle(entries)) == entries


def test_an_entry_over_64_kib_cannot_be_bundled() -> None:
    with pytest.raises(ValueError, match="more than a bundle holds"):
        encode_entry_bundle([b"x" * 65_536])
