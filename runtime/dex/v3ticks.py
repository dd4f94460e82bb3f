"""Which of a V3 pool's ticks to read: the tick bitmap's words around the price, and the
initialized ticks a word's bits stand for.

The pool keeps one bit per tick spacing in 256-bit words (`tickBitmap(int16 word)`); a bit set
means the tick is initialized and `ticks(tick)` holds its liquidityNet. A reader that fetches
whole words around the current tick knows every initialized tick in their span, which is the
`tick_range` it hands to the swap math (v3math.V3PoolState).
"""

from __future__ import annotations

WORD_TICKS = 256  # bits per bitmap word, each one tick spacing


def word_of(tick: int, spacing: int) -> int:
    """The bitmap word holding `tick` (the contract floors negative ticks)."""
    return (tick // spacing) >> 8


def words_around(tick: int, spacing: int, each_side: int) -> range:
    """The words from `each_side` below the current one to `each_side` above (int16 bounds kept)."""
    centre = word_of(tick, spacing)
    return range(max(-(2**15), centre - each_side), min(2**15 - 1, centre + each_side) + 1)


def ticks_in_word(word: int, bits: int, spacing: int) -> list[int]:
    """The initialized ticks a word's set bits stand for, ascending."""
    ticks = []
    while bits:
        low = bits & -bits
        ticks.append(((word << 8) + low.bit_length() - 1) * spacing)
        bits ^= low
    return ticks


def span(words: range, spacing: int) -> tuple[int, int]:
    """The ticks [low, high] the words cover: every initialized tick there is in them."""
    return words.start * WORD_TICKS * spacing, ((words.stop - 1) * WORD_TICKS + WORD_TICKS - 1) * spacing
