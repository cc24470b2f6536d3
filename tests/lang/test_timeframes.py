"""``close@4h`` shows only closed 4h bars: checked against Hyperliquid's own recorded 4h candles."""

from __future__ import annotations

import numpy as np
import pytest
from langkit import HOUR_MS, bar_at, cut, hourly_frame, strategy
from sparkstacker.lang.plan import FLAT_STATE
from sparkstacker.lang.timeframes import StreamResampler, resample

pytestmark = pytest.mark.shared

FOUR_H = 4 * HOUR_MS


def _columns(frame):  # type: ignore[no-untyped-def]
    return {n: frame.field(n) for n in ("open", "high", "low", "close", "volume")}


def test_resampled_4h_bars_match_the_venues_own_4h_candles(eth_1h, eth_4h_real) -> None:  # type: ignore[no-untyped-def]
    higher = resample(eth_1h.timestamp, _columns(eth_1h), "1h", "4h")
    real = {int(t): i for i, t in enumerate(eth_4h_real.timestamp)}
    matched = 0
    for k, start in enumerate(higher.timestamp[:-1]):  # the last bucket may be incomplete
        j = real[int(start)]
        for name in ("open", "high", "low", "close"):
            assert higher.columns[name][k] == eth_4h_real.field(name)[j], (name, start)
        assert higher.columns["volume"][k] == pytest.approx(eth_4h_real.volume[j], rel=1e-9)
        matched += 1
    assert matched > 400
    # the 1h data starts at 11:00, inside the 08:00-12:00 bucket: that bucket is dropped
    assert eth_1h.timestamp[0] % FOUR_H != 0
    assert higher.timestamp[0] == (eth_1h.timestamp[0] // FOUR_H + 1) * FOUR_H


def test_close_at_4h_is_the_last_closed_4h_bar(compile_src, eth_1h, eth_4h_real) -> None:  # type: ignore[no-untyped-def]
    rules = compile_src(strategy("let c4 = close@4h\nenter long when c4 > close"))
    prepared = rules.strategies[0].prepare(eth_1h)
    seen = prepared.arrays()["c4"]
    real_close = dict(zip(eth_4h_real.timestamp.tolist(), eth_4h_real.close.tolist(), strict=True))
    first_full_bucket = (eth_1h.timestamp[0] // FOUR_H + 1) * FOUR_H
    checked = 0
    for i, opened in enumerate(eth_1h.timestamp.tolist()):
        closes_at = opened + HOUR_MS  # a decision at bar i is made when bar i closes
        # manual alignment: the newest 4h bar that had *ended* by then
        last_closed_start = closes_at // FOUR_H * FOUR_H - FOUR_H
        if last_closed_start < first_full_bucket:
            assert np.isnan(seen[i])
            continue
        assert seen[i] == real_close[last_closed_start], i
        checked += 1
        # never the 4h bar still forming (it would leak up to 3 future hours)
        forming = opened // FOUR_H * FOUR_H
        if (
            closes_at < forming + FOUR_H
            and real_close.get(forming) != real_close[last_closed_start]
        ):
            assert seen[i] != real_close[forming]
    assert checked > 1500


def test_future_bars_do_not_change_past_values(compile_src, eth_1h) -> None:  # type: ignore[no-untyped-def]
    text = strategy(
        "let r = rsi(close@4h, 14)\nlet m = macd(close, 12, 26, 9)\n"
        "enter long when r > 50 and m.macd crosses above m.signal\n"
        "enter short when r < 50 and m.macd crosses below m.signal"
    )
    plan = compile_src(text).strategies[0]
    full = plan.prepare(eth_1h)
    stop = 1200
    truncated = plan.prepare(cut(eth_1h, stop))
    for name in ("r", "m.macd", "enter_long", "enter_short"):
        np.testing.assert_array_equal(full.arrays()[name][:stop], truncated.arrays()[name])
    for i in range(stop):
        assert full.decide(i, FLAT_STATE) == truncated.decide(i, FLAT_STATE)


def test_stream_resampler_matches_vectorised_resample_with_gaps() -> None:
    # 1h bars with a start inside a bucket and a gap that skips a bucket's last bar
    hours = [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20]
    close = [float(h * 10) for h in hours]
    frame = hourly_frame(close)
    stamps = np.asarray([h * HOUR_MS for h in hours], dtype=np.int64)
    frame = type(frame)("1h", stamps, frame.open, frame.high, frame.low, frame.close, frame.volume)
    higher = resample(stamps, _columns(frame), "1h", "4h")
    streamer = StreamResampler("1h", "4h")
    emitted = []
    visible_stream = []
    for i in range(len(hours)):
        emitted.extend(streamer.update(bar_at(frame, i)))
        visible_stream.append(len(emitted) - 1)
    assert [b["timestamp"] for b in emitted] == higher.timestamp[: len(emitted)].tolist()
    assert [b["close"] for b in emitted] == higher.columns["close"][: len(emitted)].tolist()
    assert visible_stream == higher.visible.tolist()
    # hand check: bucket 0h-4h is partial (data starts at 1h) and dropped; bucket 4h-8h has no
    # 7h bar, so it closes when the 8h bar arrives, with close 60 (the 6h bar)
    assert higher.timestamp[0] == 4 * HOUR_MS
    assert higher.columns["close"][0] == 60.0
    assert higher.visible[hours.index(8)] == 0
    assert higher.visible[hours.index(6)] == -1
