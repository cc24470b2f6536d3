"""Real input series for indicator tests, read from ../shared/marketdata (never copied).

All fixtures skip cleanly when ../shared is absent (through the ``marketdata`` fixture)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

CANDLES = "Alpergulsen__freqtrade/user_data/data/binance/futures/ETH_USDT_USDT-1m-futures.feather"
BOOK_TICKER = "nkaz001__hftbacktest/examples/usdm/ethusdt_20240808.gz"
HL_FUNDING = (
    "hippocritical__freqtrade_hyperliquid_download-data/user_data/data/hyperliquid/futures/"
    "ETH_USDC_USDC-1h-funding_rate.feather"
)
HL_BOOK = "nkaz001__hftbacktest/examples/hyperliquid/btcusd_20250126.gz"


def candles(marketdata: Path, start: int, count: int) -> dict[str, np.ndarray]:
    """``count`` real 1m ETHUSDT perp bars from bar ``start``: open, high, low, close, volume."""
    import pandas as pd

    frame = pd.read_feather(marketdata / CANDLES).iloc[start : start + count]
    return {
        c: frame[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume")
    }


def book_ticker(marketdata: Path, count: int) -> dict[str, np.ndarray]:
    """The first ``count`` Binance ETHUSDT bookTicker updates: best bid/ask price and size."""
    rows: list[tuple[float, float, float, float]] = []
    with gzip.open(marketdata / BOOK_TICKER, "rt") as lines:
        for line in lines:
            if "@bookTicker" not in line:
                continue
            data = json.loads(line.split(" ", 1)[1])["data"]
            rows.append((float(data["b"]), float(data["B"]), float(data["a"]), float(data["A"])))
            if len(rows) == count:
                break
    table = np.array(rows)
    return {
        "bid_price": table[:, 0],
        "bid_size": table[:, 1],
        "ask_price": table[:, 2],
        "ask_size": table[:, 3],
    }


def funding_prints(marketdata: Path) -> np.ndarray:
    """Hyperliquid ETH hourly funding rates (the rate is in the ``open`` column)."""
    import pandas as pd

    path = marketdata / HL_FUNDING
    return pd.read_feather(path)["open"].to_numpy(dtype=np.float64)


def hyperliquid_books(marketdata: Path) -> list[dict]:
    """The recorded Hyperliquid ``l2Book`` messages' ``data`` objects, in order."""
    books = []
    with gzip.open(marketdata / HL_BOOK, "rt") as lines:
        for line in lines:
            message = json.loads(line.split(" ", 1)[1])
            if message.get("channel") == "l2Book":
                books.append(message["data"])
    return books


@pytest.fixture(scope="session")
def eth_candles(marketdata: Path) -> dict[str, np.ndarray]:
    """3,000 real 1m bars (well past every warm-up plus hundreds of updates)."""
    return candles(marketdata, 20_000, 3_000)


@pytest.fixture(scope="session")
def book_ticks(marketdata: Path) -> dict[str, np.ndarray]:
    return book_ticker(marketdata, 3_000)


@pytest.fixture(scope="session")
def hl_funding(marketdata: Path) -> np.ndarray:
    return funding_prints(marketdata)


@pytest.fixture(scope="session")
def hl_books(marketdata: Path) -> list[dict]:
    return hyperliquid_books(marketdata)
