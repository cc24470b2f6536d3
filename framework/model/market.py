"""Market data: candles, order books, trades and funding rates."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from pydantic import Field, model_validator
from sparkstacker.model.base import ZERO, FrozenModel, UtcDatetime
from sparkstacker.model.enums import Side


class Candle(FrozenModel):
    """One OHLCV bar; ``timestamp`` is the bar's open time (UTC)."""

    timestamp: UtcDatetime
    open: Decimal = Field(gt=0)
    high: Decimal = Field(gt=0)
    low: Decimal = Field(gt=0)
    close: Decimal = Field(gt=0)
    volume: Decimal = Field(default=ZERO, ge=0)
    trades: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Candle:
        if self.low > min(self.open, self.close) or self.high < max(self.open, self.close):
            raise ValueError(
                f"candle at {self.timestamp.isoformat()} is inconsistent: low {self.low}, "
                f"high {self.high}, open {self.open}, close {self.close}"
            )
        return self


class BookLevel(FrozenModel):
    price: Decimal = Field(gt=0)
    size: Decimal = Field(gt=0)
    orders: int | None = Field(default=None, ge=0)


class OrderBook(FrozenModel):
    """An L2 snapshot. Bids best (highest) first, asks best (lowest) first."""

    venue: str
    symbol: str
    timestamp: UtcDatetime
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()

    @model_validator(mode="after")
    def _sorted(self) -> OrderBook:
        for name, levels, descending in (("bids", self.bids, True), ("asks", self.asks, False)):
            prices = [level.price for level in levels]
            if prices != sorted(prices, reverse=descending):
                order = "descending" if descending else "ascending"
                raise ValueError(f"{self.symbol} {name} must be {order} by price (best first)")
        if self.bids and self.asks and self.bids[0].price >= self.asks[0].price:
            raise ValueError(
                f"{self.symbol} book is crossed: best bid {self.bids[0].price} >= "
                f"best ask {self.asks[0].price}"
            )
        return self

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2

    @property
    def spread(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price

    @property
    def microprice(self) -> Decimal | None:
        """Size-weighted mid: leans towards the side with less resting size."""
        if not self.bids or not self.asks:
            return None
        bid, ask = self.bids[0], self.asks[0]
        return (bid.price * ask.size + ask.price * bid.size) / (bid.size + ask.size)

    def imbalance(self, levels: int = 1) -> Decimal | None:
        """(bid size - ask size) / (bid size + ask size) over the top ``levels`` levels."""
        bid_size = sum((level.size for level in self.bids[:levels]), ZERO)
        ask_size = sum((level.size for level in self.asks[:levels]), ZERO)
        total = bid_size + ask_size
        return None if total == 0 else (bid_size - ask_size) / total

    def side_levels(self, side: Side) -> tuple[BookLevel, ...]:
        """Levels a taker order of ``side`` consumes (a buy walks the asks)."""
        return self.asks if side is Side.BUY else self.bids


class Trade(FrozenModel):
    venue: str
    symbol: str
    timestamp: UtcDatetime
    price: Decimal = Field(gt=0)
    size: Decimal = Field(gt=0)
    side: Side | None = Field(default=None, description="Aggressor side when known")
    trade_id: str | None = None


class FundingRate(FrozenModel):
    """Funding for one interval. Positive rate: longs pay shorts (payment = size × price × rate)."""

    venue: str
    symbol: str
    timestamp: UtcDatetime
    rate: Decimal
    interval: timedelta = timedelta(hours=1)
    premium: Decimal | None = None
