"""The fast path's compiled kernel (numba): one strategy on its own account, bar by bar.

Imported only when the fast path runs (numba takes ~0.4 s to import); compiled once and cached
on disk (``cache=True``). Everything here is float/integer arithmetic on arrays: sizes are whole
lots, prices are points of the instrument's grid (an integer times a power-of-ten increment).
Whatever floats cannot decide exactly is *flagged* — a price on the grid that needs the
``Decimal`` rounding, a margin check or a liquidation price too close to call, a sizer's equity
near zero — and the caller then fixes the price in Python or reruns the strategy on the exact
per-trade loop. The semantics mirror :mod:`sparkstacker.backtest.fast_loop` line by line.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from sparkstacker.backtest.fast_kernel_codes import (
    DONE,
    FILLED,
    GUARD,
    IOC_CANCELLED,
    KIND_ENTER,
    KIND_EXIT,
    KIND_FLIP,
    KIND_FLIP_EXIT,
    REJECTED_LIQUIDITY,
    REJECTED_REDUCE,
    REJECTED_SIZE,
    SHUTDOWN,
    STOP_CAPACITY,
    STOP_EQUITY,
    STOP_INCREASE,
    STOP_INPUTS,
    STOP_LIQUIDATION,
    STOP_MARGIN,
)


@njit(cache=True)
def _grid_value(k: int, e: int, pow10: np.ndarray) -> float:
    """The float nearest ``k × 10^e`` (one correctly rounded operation)."""
    if e >= 0:
        return float(k) * pow10[e]
    return float(k) / pow10[-e]


@njit(cache=True)
def _round_one(
    r: float,
    exact: bool,
    up: bool,
    hint: int,
    a_min: int,
    p10: np.ndarray,
    inc_e: np.ndarray,
    pow10: np.ndarray,
) -> tuple[int, int, float, bool]:
    """``Instrument.round_price`` of one price against the taker: ``(k, a, value, ok)``.

    ``exact``: the price is ``Decimal(repr(r))`` (no slippage moved it) and the answer is exact
    by monotonicity of decimal → float rounding; else it is ``r`` to 12 significant digits and
    the answer is trusted only away from grid points. ``a`` is the price's decimal exponent
    (``Decimal.adjusted``, tried first at ``hint``), which picks the increment
    ``10^inc_e[a]``; the result is ``k × 10^inc_e[a]``. ``ok`` False: not decided here (the
    caller asks ``round_price``).
    """
    if not (r > 0.0) or not math.isfinite(r):
        return 0, 0, 0.0, False
    top = a_min + len(p10) - 2
    a = hint
    if not (a_min < a < top and p10[a - a_min] <= r < p10[a + 1 - a_min]):
        a = math.floor(math.log10(r))
        if a < a_min + 1 or a > top - 1:
            return 0, 0, 0.0, False
        while a > a_min and r < p10[a - a_min]:
            a -= 1
        while a < top and r >= p10[a + 1 - a_min]:
            a += 1
    low, high = p10[a - a_min], p10[a + 1 - a_min]
    if not exact and (r - low <= 1e-11 * r or high - r <= 1e-11 * r):
        return 0, 0, 0.0, False  # 12 significant digits could land on a power of ten
    e = inc_e[a - a_min]
    if e > 22 or e < -22:
        return 0, 0, 0.0, False
    q = r * pow10[-e] if e < 0 else r / pow10[e]
    if not (q < 1e15):
        return 0, 0, 0.0, False
    if exact:
        nearest = math.floor(q + 0.5)
        if nearest >= 1 and _grid_value(nearest, e, pow10) == r:  # on the grid: stays put
            return nearest, a, r, True
        k0 = math.floor(q)
        k = -1
        if up:
            for c in range(k0 - 1, k0 + 3):
                if _grid_value(c, e, pow10) >= r:
                    k = c
                    break
            if k < 1 or _grid_value(k - 1, e, pow10) >= r:
                return 0, 0, 0.0, False
        else:
            for c in range(k0 + 2, k0 - 2, -1):
                if _grid_value(c, e, pow10) <= r:
                    k = c
                    break
            if k < 1 or _grid_value(k + 1, e, pow10) <= r:
                return 0, 0, 0.0, False
    else:
        nearest = math.floor(q + 0.5)
        if abs(q - nearest) <= 1e-11 * q + 1e-12:
            return 0, 0, 0.0, False
        k = math.ceil(q) if up else math.floor(q)
        if k < 1:
            return 0, 0, 0.0, False
    value = _grid_value(k, e, pow10)
    if value < low or value >= high:
        return 0, 0, 0.0, False  # crossed a power of ten: the increment changes
    return k, a, value, True


@njit(cache=True)
def grid_prices(
    ref: np.ndarray,
    bars: np.ndarray,
    up: bool,
    fraction: float,
    a_min: int,
    p10: np.ndarray,
    inc_e: np.ndarray,
    pow10: np.ndarray,
    out: np.ndarray,
) -> np.ndarray:
    """Taker prices at ``ref[bars]`` for buys (``up``) or sells: fixed-bps slippage, then the
    grid. Writes ``out[i]`` for ``bars[i]``; returns the ``i`` it could not decide."""
    undecided = np.empty(len(bars), dtype=np.int64)
    count = 0
    factor = 1.0 + fraction if up else 1.0 - fraction
    hint = a_min
    for i in range(len(bars)):
        j = bars[i]
        r = ref[j]
        raw = r * factor
        _, a, value, ok = _round_one(raw, raw == r, up, hint, a_min, p10, inc_e, pow10)
        out[i] = value
        if ok:
            hint = a
        else:
            undecided[count] = i
            count += 1
    return undecided[:count]


@njit(cache=True)
def action_bars(
    enter_long: np.ndarray, enter_short: np.ndarray, exit_long: np.ndarray, exit_short: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bars where the sizer may be asked (an entry), where a buy may be decided (a long entry,
    a short exit) and where a sell may (a short entry, a long exit), in one pass."""
    n = len(enter_long)
    entries = np.empty(n, dtype=np.int64)
    buys = np.empty(n, dtype=np.int64)
    sells = np.empty(n, dtype=np.int64)
    ne = nb = ns = 0
    for j in range(n):
        el, es = enter_long[j], enter_short[j]
        if el or es:
            entries[ne] = j
            ne += 1
        if el or exit_short[j]:
            buys[nb] = j
            nb += 1
        if es or exit_long[j]:
            sells[ns] = j
            ns += 1
    return entries[:ne].copy(), buys[:nb].copy(), sells[:ns].copy()


@njit(cache=True, inline="always")
def _liquidation_price(lots: int, lot: float, entry: float, cash: float, mmr: float) -> float:
    """The venue's liquidation price of the account's only position (±inf: none)."""
    if lots == 0:
        return math.nan
    size = lots * lot
    price = (size * entry - cash) / (size - mmr * abs(size))
    if not (price > 0.0):
        return -math.inf if lots > 0 else math.inf
    return price


@njit(cache=True, inline="always")
def _breaches(lots: int, liq: float, low: float, high: float) -> bool:
    """Does the path ``low..high`` reach the liquidation price, or come too close to call?"""
    if lots == 0:
        return False
    band = GUARD * abs(liq) if math.isfinite(liq) else 0.0
    if lots > 0:
        return low < liq + band
    return high > liq - band


@njit(cache=True)
def simulate(
    ts: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    enter_long: np.ndarray,
    enter_short: np.ndarray,
    exit_long: np.ndarray,
    exit_short: np.ndarray,
    entry_bars: np.ndarray,
    entry_lots: np.ndarray,
    buy_bars: np.ndarray,
    buy_px: np.ndarray,
    buy_cap: np.ndarray,
    sell_bars: np.ndarray,
    sell_px: np.ndarray,
    sell_cap: np.ndarray,
    fill_at_close: bool,
    step_ms: int,
    lot: float,
    taker: float,
    leverage: float,
    mmr: float,
    min_lots: int,
    check_equity: bool,
    cash0: float,
    funding_on: bool,
    first_boundary: np.ndarray,
    last_boundary: np.ndarray,
    rates: np.ndarray,
    constant_rate: float,
    interval_ms: int,
    o_bar: np.ndarray,
    o_kind: np.ndarray,
    o_direction: np.ndarray,
    o_side: np.ndarray,
    o_lots: np.ndarray,
    o_status: np.ndarray,
    o_fill: np.ndarray,
    f_order: np.ndarray,
    f_lots: np.ndarray,
    f_opened: np.ndarray,
    f_price: np.ndarray,
    f_fee: np.ndarray,
    f_realized: np.ndarray,
    f_position: np.ndarray,
    f_cash: np.ndarray,
    p_bar: np.ndarray,
    p_boundary: np.ndarray,
    p_lots: np.ndarray,
    p_amount: np.ndarray,
) -> tuple[int, int, int, int, int]:
    """Run one strategy over its bars with the venue's and the engine's rules, in floats.

    Inputs: the plan's entry/exit arrays; entry sizes in lots at ``entry_bars``; taker prices
    and volume caps (lots) at the bars a buy or a sell can fill. Writes the orders (decision
    bar, kind, direction, side, lots, status, fill or -1), fills (order, lots, opened a
    position, price, fee, realised PnL, then the position in lots and the cash) and funding
    payments (bar, boundary, position lots, amount) into the ``o_``/``f_``/``p_`` buffers.
    Returns ``(orders, fills, payments, stop, bar)``: the counts written, and DONE or why the
    run cannot be decided in floats at ``bar``.

    Each bar: funding at the open, the order of the previous close fills at the open (stage 0),
    then the bar's path and its close, where the strategy decides and an order may fill at the
    close (stage 1). The fill itself is written once below (numba's inlining of a helper with
    this many arrays costs twice the time).
    """
    n = len(ts)
    n_orders = 0
    n_fills = 0
    n_payments = 0
    pos = 0
    entry = 0.0
    cash = cash0
    liq = math.nan
    pending = -1
    funding_paid = -(2**62)
    e_at = 0
    b_at = 0
    s_at = 0
    for j in range(n):
        # ---- the bar's open: funding -------------------------------------------------------
        if funding_on and pos != 0 and first_boundary[j] <= last_boundary[j]:
            rate = rates[j] if len(rates) else math.nan
            if math.isnan(rate):
                rate = constant_rate
            if not math.isnan(rate):
                boundary = first_boundary[j]
                while boundary <= last_boundary[j]:
                    if boundary > funding_paid:
                        if n_payments >= len(p_bar):
                            return n_orders, n_fills, n_payments, STOP_CAPACITY, j
                        payment = pos * lot * open_[j] * rate
                        cash -= payment
                        funding_paid = boundary
                        p_bar[n_payments] = j
                        p_boundary[n_payments] = boundary
                        p_lots[n_payments] = pos
                        p_amount[n_payments] = payment
                        n_payments += 1
                    boundary += interval_ms
                liq = _liquidation_price(pos, lot, entry, cash, mmr)
        stage = 0
        while stage < 2:
            order = -1
            if stage == 0:
                # ---- stage 0: the order waiting for this open ------------------------------
                stage = 1
                if pending < 0:
                    continue
                order = pending
                pending = -1
                ms = ts[j]
                if pos != 0 and _breaches(pos, liq, open_[j], open_[j]):  # the gap
                    return n_orders, n_fills, n_payments, STOP_LIQUIDATION, j
            else:
                # ---- stage 1: the bar's path, then its close (rule_strategy.act) -----------
                stage = 2
                if pos != 0 and _breaches(pos, liq, low[j], high[j]):
                    return n_orders, n_fills, n_payments, STOP_LIQUIDATION, j
                el, es = enter_long[j], enter_short[j]
                xl, xs = exit_long[j], exit_short[j]
                if not (el or es or xl or xs):
                    continue
                direction = 1 if el else (-1 if es else 0)
                kind = -1
                want = 0
                if direction != 0 and pos * direction <= 0:  # an entry or a flip: the sizer
                    if check_equity:
                        equity = cash + pos * lot * (close[j] - entry)
                        if equity <= GUARD * (abs(cash) + abs(pos * lot * close[j])):
                            return n_orders, n_fills, n_payments, STOP_EQUITY, j
                    while e_at < len(entry_bars) and entry_bars[e_at] < j:
                        e_at += 1
                    if e_at == len(entry_bars) or entry_bars[e_at] != j:
                        return n_orders, n_fills, n_payments, STOP_INPUTS, j
                    lots = entry_lots[e_at]
                    if pos != 0:
                        kind = KIND_FLIP if lots > 0 else KIND_FLIP_EXIT
                        want = lots + abs(pos) if lots > 0 else abs(pos)
                    elif lots > 0:
                        kind = KIND_ENTER
                        want = lots
                elif (xl and pos > 0) or (xs and pos < 0):
                    kind = KIND_EXIT
                    want = abs(pos)
                if kind < 0:
                    continue
                # ---- submit: the venue's check_order -----------------------------------
                reduce = kind >= KIND_EXIT  # an exit, or a flip's exit: reduce-only
                side = (-1 if pos > 0 else 1) if reduce else direction
                order = n_orders
                n_orders += 1
                o_bar[order] = j
                o_kind[order] = kind
                o_direction[order] = direction
                o_side[order] = side
                o_lots[order] = want
                o_status[order] = SHUTDOWN
                o_fill[order] = -1
                if want < min_lots:
                    o_status[order] = REJECTED_SIZE
                    continue
                # The venue's minimum order value needs no check: an exit closes the position
                # (exempt) and an entry or a flip is at least the size the sizer checked at
                # this same price.
                if not reduce:
                    last = close[j]
                    adding = want if pos == 0 else max(0, want - abs(pos))
                    needed = adding * lot * last / leverage
                    held = abs(pos) * lot * last
                    available = cash + pos * lot * (last - entry) - held / leverage
                    if needed > 0 and needed > available - GUARD * (abs(cash) + held + needed):
                        return n_orders, n_fills, n_payments, STOP_MARGIN, j
                if not fill_at_close:
                    pending = order
                    continue
                ms = ts[j] + step_ms
            # ---- the order meets its bar: OrderFlow.act + Executor.take + Ledger.apply_fill -
            side = o_side[order]
            if side > 0:
                while b_at < len(buy_bars) and buy_bars[b_at] < j:
                    b_at += 1
                if b_at == len(buy_bars) or buy_bars[b_at] != j:
                    return n_orders, n_fills, n_payments, STOP_INPUTS, j
                price = buy_px[b_at]
                cap = buy_cap[b_at]
            else:
                while s_at < len(sell_bars) and sell_bars[s_at] < j:
                    s_at += 1
                if s_at == len(sell_bars) or sell_bars[s_at] != j:
                    return n_orders, n_fills, n_payments, STOP_INPUTS, j
                price = sell_px[s_at]
                cap = sell_cap[s_at]
            take = min(o_lots[order], cap)
            kind = o_kind[order]
            if kind >= KIND_EXIT:  # reduce-only
                reducible = abs(pos) if (pos != 0 and (pos > 0) != (side > 0)) else 0
                if reducible == 0:
                    o_status[order] = REJECTED_REDUCE
                    continue
                take = min(take, reducible)
            if take <= 0:
                o_status[order] = REJECTED_LIQUIDITY
                continue
            if pos != 0 and (pos > 0) == (side > 0):
                return n_orders, n_fills, n_payments, STOP_INCREASE, j
            fee = price * (take * lot) * taker
            realized = 0.0
            if pos != 0:
                closed = min(take, abs(pos))
                realized = closed * lot * (price - entry) * (1.0 if pos > 0 else -1.0)
            new = pos + side * take
            opened = pos == 0 or (new != 0 and (new > 0) != (pos > 0))
            if new == 0:
                entry = 0.0
            elif opened:
                entry = price
            cash += realized - fee
            if opened:
                floor_ms = ms - ms % interval_ms
                if floor_ms > funding_paid:
                    funding_paid = floor_ms
            pos = new
            liq = _liquidation_price(pos, lot, entry, cash, mmr)
            f_order[n_fills] = order
            f_lots[n_fills] = take
            f_opened[n_fills] = 1 if opened else 0
            f_price[n_fills] = price
            f_fee[n_fills] = fee
            f_realized[n_fills] = realized
            f_position[n_fills] = pos
            f_cash[n_fills] = cash
            o_status[order] = FILLED if take == o_lots[order] else IOC_CANCELLED
            o_fill[order] = n_fills
            n_fills += 1
            if stage == 2 and pos != 0 and _breaches(pos, liq, close[j], close[j]):
                return n_orders, n_fills, n_payments, STOP_LIQUIDATION, j  # after a close fill
    return n_orders, n_fills, n_payments, DONE, n


@njit(cache=True)
def equity_path(
    n: int,
    start: float,
    fill_bucket: np.ndarray,
    market: np.ndarray,
    signed: np.ndarray,
    price: np.ndarray,
    fee: np.ndarray,
    pay_bucket: np.ndarray,
    payments: np.ndarray,
    marks: np.ndarray,
) -> np.ndarray:
    """``collect.equity_curve`` in one pass, with the same float operations in the same order.

    Fills and payments come with their bucket (the first timeline point at or after them),
    sorted by it (input order kept within a bucket). Per bucket the cash flows
    ``-(signed × price) - fee`` then ``-payment`` and each market's size changes are summed in
    that order; point ``t`` is ``start + Σ_market held × mark`` (markets in order) plus the
    running cash. ``marks`` has one row per market.
    """
    markets = marks.shape[0]
    if markets == 1:
        return _equity_one(n, start, fill_bucket, signed, price, fee, pay_bucket, payments, marks)
    equity = np.empty(n, dtype=np.float64)
    held = np.zeros(markets, dtype=np.float64)
    change = np.zeros(markets, dtype=np.float64)
    cash = 0.0
    i = 0
    p = 0
    for t in range(n):
        flow = 0.0
        if i < len(fill_bucket) and fill_bucket[i] == t:
            change[:] = 0.0
            while i < len(fill_bucket) and fill_bucket[i] == t:
                flow += -(signed[i] * price[i]) - fee[i]
                change[market[i]] += signed[i]
                i += 1
            for k in range(markets):
                held[k] += change[k]
        while p < len(pay_bucket) and pay_bucket[p] == t:
            flow += -payments[p]
            p += 1
        cash += flow
        value = start
        for k in range(markets):
            value += held[k] * marks[k, t]
        equity[t] = value + cash
    return equity


@njit(cache=True)
def _equity_one(
    n: int,
    start: float,
    fill_bucket: np.ndarray,
    signed: np.ndarray,
    price: np.ndarray,
    fee: np.ndarray,
    pay_bucket: np.ndarray,
    payments: np.ndarray,
    marks: np.ndarray,
) -> np.ndarray:
    """:func:`equity_path` for one market (the same operations, without the market loop)."""
    equity = np.empty(n, dtype=np.float64)
    mark = marks[0]
    held = 0.0
    cash = 0.0
    i = 0
    p = 0
    fills = len(fill_bucket)
    pays = len(pay_bucket)
    for t in range(n):
        flow = 0.0
        if i < fills and fill_bucket[i] == t:
            change = 0.0
            while i < fills and fill_bucket[i] == t:
                flow += -(signed[i] * price[i]) - fee[i]
                change += signed[i]
                i += 1
            held += change
        while p < pays and pay_bucket[p] == t:
            flow += -payments[p]
            p += 1
        cash += flow
        equity[t] = (start + held * mark[t]) + cash
    return equity
