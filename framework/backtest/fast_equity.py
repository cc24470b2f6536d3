"""The kernel run's equity curve: ``collect.equity_curve`` compiled, the same numbers.

Fills and payments are bucketed to the first timeline point at or after them (from the bars
when the run has one market, else by search), ordered by bucket with input order kept inside
one, and summed with the same float operations in the same order as the numpy builder the
event engine uses, in one pass over the timeline instead of a dozen.
"""

from __future__ import annotations

import numpy as np
from sparkstacker.backtest.collect import FlowArrays


def equity_path(
    timeline: np.ndarray,
    closes: dict[str, tuple[np.ndarray, np.ndarray]],
    flows: FlowArrays,
    pay_stamps: np.ndarray,
    payments: np.ndarray,
    start: float,
    buckets: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``collect.equity_curve`` compiled: the same numbers (the same float operations in the
    same order) in one pass instead of a dozen over the timeline. ``buckets``: the timeline
    point of each fill and payment when the caller knows them (else searched)."""
    from sparkstacker.backtest.fast_kernel_jit import equity_path as compiled

    n = len(timeline)
    if n == 0:
        return np.zeros(0)
    rows = []
    for symbol in flows.symbols:
        close_times, close = closes[symbol]
        if close_times is timeline or np.array_equal(close_times, timeline):
            rows.append(close)
        else:
            at = np.searchsorted(close_times, timeline, side="right") - 1
            rows.append(np.where(at >= 0, close[np.clip(at, 0, None)], 0.0))
    if len(rows) == 1:
        marks = np.asarray(rows[0], dtype=np.float64).reshape(1, n)  # a view, not a copy
    else:
        marks = np.array(rows, dtype=np.float64).reshape(len(rows), n)
    if buckets is None:
        buckets = (_buckets(timeline, flows.stamps), _buckets(timeline, pay_stamps))
    fill_bucket, pay_bucket = buckets
    order = _bucket_order(fill_bucket)
    pay_order = _bucket_order(pay_bucket)
    return compiled(
        n,
        start,
        fill_bucket[order],
        flows.market[order],
        flows.signed[order],
        flows.price[order],
        flows.fee[order],
        pay_bucket[pay_order],
        payments[pay_order],
        marks,
    )


def _buckets(timeline: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    """The first timeline point at or after each stamp (the last one for later stamps)."""
    return np.minimum(np.searchsorted(timeline, stamps), len(timeline) - 1)


def _bucket_order(buckets: np.ndarray) -> np.ndarray | slice:
    """Sort by bucket, keeping input order within one (nothing to do when already sorted)."""
    if len(buckets) < 2 or bool(np.all(buckets[1:] >= buckets[:-1])):
        return slice(None)
    return np.argsort(buckets, kind="stable")
