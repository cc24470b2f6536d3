"""The slippage-model contract used by the simulated venue for taker fills."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sparkstacker.model import OrderBook, Side


class SlippageModel(Protocol):
    """Returns the average fill price of a taker order of ``size`` against ``reference``."""

    def fill_price(
        self,
        side: Side,
        reference: float,
        size: float,
        bar_volume: float,
        book: OrderBook | None = None,
    ) -> float: ...


@dataclass(frozen=True)
class SlippagePlugin:
    name: str
    summary: str
    create: Callable[[Mapping[str, Any]], SlippageModel]
