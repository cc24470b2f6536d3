"""Fixtures for the rule-language tests (helpers live in ``langkit``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from langkit import HL, feather_frame  # noqa: E402
from sparkstacker.lang import compile_text  # noqa: E402
from sparkstacker.lang.plan import BarFrame, CompiledRules  # noqa: E402
from sparkstacker.registry import Registry  # noqa: E402


@pytest.fixture(scope="session")
def lang_registry() -> Registry:
    """The built-in plugins (indicators, sizers, exchanges, strategies, slippage models)."""
    return Registry.load(autoload=False)


@pytest.fixture
def compile_src(lang_registry: Registry) -> Callable[..., CompiledRules]:
    def compile_(text: str, filename: str = "test.rules") -> CompiledRules:
        return compile_text(text, lang_registry, filename=filename)

    return compile_


@pytest.fixture(scope="session")
def eth_1h(marketdata: Path) -> BarFrame:
    """Real Hyperliquid ETH perp 1h candles (first 2,000 bars of the recording)."""
    return feather_frame(marketdata / HL / "ETH_USDC_USDC-1h-futures.feather", "1h", slice(0, 2000))


@pytest.fixture(scope="session")
def eth_4h_real(marketdata: Path) -> BarFrame:
    """Real Hyperliquid ETH perp 4h candles, as the venue recorded them."""
    return feather_frame(marketdata / HL / "ETH_USDC_USDC-4h-futures.feather", "4h")


@pytest.fixture(scope="session")
def eth_1m(marketdata: Path) -> BarFrame:
    """Real Binance ETHUSDT perp 1m candles (a 1,500-bar slice)."""
    path = marketdata / "Alpergulsen__freqtrade/user_data/data/binance/futures"
    return feather_frame(path / "ETH_USDT_USDT-1m-futures.feather", "1m", slice(0, 1500))
