"""Registers the built-in slippage models (``fixed_bps``, ``volume_impact``, ``book_walk``)."""

from __future__ import annotations

from sparkstacker import hookimpl
from sparkstacker.slippage import SlippagePlugin
from sparkstacker_plugins.slippage.models import make_book_walk, make_fixed_bps, make_volume_impact


@hookimpl
def register_slippage_models() -> list[SlippagePlugin]:
    return [
        SlippagePlugin(
            name="fixed_bps",
            summary="Taker fills pay a fixed number of basis points (bps, default 1).",
            create=make_fixed_bps,
        ),
        SlippagePlugin(
            name="volume_impact",
            summary=(
                "Impact = k × (size / bar volume)^exponent, capped at max_impact, plus a fixed "
                "bps part (defaults k 0.1, exponent 0.5, max_impact 5%, bps 0)."
            ),
            create=make_volume_impact,
        ),
        SlippagePlugin(
            name="book_walk",
            summary=(
                "VWAP over the order book levels the order consumes; with no book it falls "
                "back to fixed 0 (no slippage)."
            ),
            create=make_book_walk,
        ),
    ]
