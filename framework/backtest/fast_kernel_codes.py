"""Codes the compiled kernel writes and the Python side reads (importable without numba)."""

from __future__ import annotations

# order kinds: an entry, a flip, an exit, and the exit of a flip whose new side got no size
# (the exits, reduce-only, are the codes from KIND_EXIT up)
KIND_ENTER, KIND_FLIP, KIND_EXIT, KIND_FLIP_EXIT = 0, 1, 2, 3
# how an order ended
FILLED, IOC_CANCELLED, REJECTED_SIZE, REJECTED_LIQUIDITY, REJECTED_REDUCE, SHUTDOWN = range(6)
# why the kernel stopped (DONE: it did not)
DONE, STOP_MARGIN, STOP_LIQUIDATION, STOP_EQUITY, STOP_INCREASE, STOP_CAPACITY, STOP_INPUTS = range(
    7
)

STOPS = {
    STOP_MARGIN: "a margin check too close to call in floats (or a rejection for insufficient "
    "margin)",
    STOP_LIQUIDATION: "a liquidation price within reach of the bars (or too close to call)",
    STOP_EQUITY: "the sizer's equity near zero",
    STOP_INCREASE: "an order that adds to a held position",
    STOP_CAPACITY: "more funding payments than boundaries",
    STOP_INPUTS: "a decision bar without its precomputed size or price (a kernel bug)",
}

GUARD = 1e-7
"""Relative band inside which the kernel does not trust a float comparison (and stops)."""
