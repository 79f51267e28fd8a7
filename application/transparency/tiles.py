"""The log in the C2SP tlog-tiles layout (c2sp.org/tlog-tiles): hash tiles and entry bundles.

    tile/<L>/<N>[.p/<W>]       the hashes MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])
                               for i < W (W = 256 for a full tile): the stored perfect subtrees of
                               level 8*L, indexes N*256 to N*256 + W - 1, each 32 bytes
    tile/entries/<N>[.p/<W>]   the leaves N*256 to N*256 + W - 1, each as a big-endian uint16
                               length and the leaf's bytes (application.transparency.leaf)

<N> is written in 3-digit groups, all but the last prefixed with x: 1234067 is x001/x234/067.
A tile is served once the latest signed checkpoint covers it, so anyone can check it against
that checkpoint's root; a full tile never changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63
MAX_ENTRY_BYTES = 0xFFFF
"""An entry bundle prefixes each entry with a uint16 length: no leaf can be longer."""

_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_LEVEL = re.compile(r"0|[1-9][0-9]?")


class TilePathError(ValueError):
    """Not a tile path of the spec; the message says which part is wrong."""


@dataclass(frozen=True)
class TileAddress:
    """A hash tile (level >= 0) or an entry bundle (level None)."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def entries(self) -> bool:
        return self.level is None

    @property
    def hash_level(self) -> int:
        """The Merkle level of the subtrees the tile holds (leaves: 0)."""
        return TILE_HEIGHT * (self.level or 0)

    @property
    def first(self) -> int:
        """The index, at hash_level, of the tile's first hash."""
        return self.index * TILE_WIDTH

    def leaves_needed(self) -> int:
        """The smallest tree size that holds this tile."""
        return (self.first + self.width) << self.hash_level

    def path(self) -> str:
        level = "entries" if self.level is None else str(self.level)
        suffix = "" if self.is_full else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{suffix}"


def encode_index(index: int) -> str:
    """1234067 -> x001/x234/067."""
    if index < 0:
        raise ValueError("a tile index is not negative")
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join([f"x{group}" for group in groups[:-1]] + [groups[-1]])


def parse_tile_path(path: str) -> TileAddress:
    """The tile at `path` (after the prefix's `tile/`: `<L or entries>/<N>[.p/<W>]`)."""
    parts = path.strip("/").split("/")
    if len(parts) < 2:
        raise TilePathError("a tile path is <level>/<index>[.p/<width>]")
    level_text, rest = parts[0], parts[1:]
    level: int | None
    if level_text == "entries":
        level = None
    elif _LEVEL.fullmatch(level_text) and int(level_text) <= MAX_LEVEL:
        level = int(level_text)
    else:
        raise TilePathError(f"the level {level_text!r} is not 0 to 63 (or entries)")
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        if not _WIDTH.fullmatch(rest[-1]) or int(rest[-1]) >= TILE_WIDTH:
            raise TilePathError(f"the width {rest[-1]!r} of a partial tile is not 1 to 255")
        width = int(rest[-1])
        rest = [*rest[:-2], rest[-2].removesuffix(".p")]
    *groups, last = rest
    if not all(_GROUP.fullmatch(group) for group in groups) or not _LAST.fullmatch(last):
        raise TilePathError(
            "the index is written in 3-digit groups, all but the last starting with x"
            " (1234067 is x001/x234/067)"
        )
    if groups and groups[0] == "x000":
        raise TilePathError("the index has a leading group of zeros")
    index = int("".join(group[1:] for group in groups) + last)
    return TileAddress(level, index, width)


def tiles_of_tree(tree_size: int) -> list[TileAddress]:
    """Every hash tile of a tree of tree_size leaves, full and partial, level by level."""
    tiles = []
    level = 0
    while level <= MAX_LEVEL:
        hashes = tree_size >> (TILE_HEIGHT * level)
        if hashes == 0:
            break
        tiles += [TileAddress(level, index) for index in range(hashes // TILE_WIDTH)]
        if hashes % TILE_WIDTH:
            tiles.append(TileAddress(level, hashes // TILE_WIDTH, hashes % TILE_WIDTH))
        level += 1
    return tiles


def encode_entry_bundle(entries: list[bytes]) -> bytes:
    """uint16 big-endian length, then the entry, for each entry."""
    parts: list[bytes] = []
    for position, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_BYTES:
            raise ValueError(f"entry {position} has {len(entry)} bytes, more than a bundle holds")
        parts += (len(entry).to_bytes(2, "big"), entry)
    return b"".join(parts)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    entries = []
    position = 0
    while position < len(data):
        if position + 2 > len(data):
            raise ValueError("an entry bundle ends inside a length")
        length = int.from_bytes(data[position : position + 2], "big")
        position += 2
        if position + length > len(data):
            raise ValueError("an entry bundle ends inside an entry")
        entries.append(data[position : position + length])
        position += length
    return entries
