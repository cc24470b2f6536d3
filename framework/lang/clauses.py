"""Checks of the non-expression clauses (risk, hedge, leverage, costs, portfolio) → plan data.

Each reader takes AST clauses, reports unit and range mistakes at the offending value, and
returns the frozen plan objects of :mod:`sparkstacker.lang.plan`.
"""

from __future__ import annotations

import itertools
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

from sparkstacker.errors import SparkStackerError
from sparkstacker.lang import ast
from sparkstacker.lang.diagnostics import Diagnostics
from sparkstacker.lang.plan import (
    ExecutionCosts,
    GovernorLevel,
    HedgeSpec,
    MarginWarning,
    MoneyLimit,
    PortfolioPlan,
    RiskSpec,
    SourceRef,
)
from sparkstacker.lang.units import TIMEFRAMES, Unit, duration, fraction_text, too_long, unit_of
from sparkstacker.registry import Registry

HUNDRED = Decimal(100)
ACTION_RANK = {"reduce_only": 1, "halt": 2, "flatten": 3}


class Values:
    """Reads one quantity as a given kind, with a message in words when it is something else."""

    def __init__(self, diag: Diagnostics) -> None:
        self.diag = diag

    def _wrong(self, what: str, expected: str, q: ast.Quantity, example: str) -> None:
        got = "a plain number" if q.unit is None else f"{q.text}"
        hint = f"write {example}"
        if q.unit is None:
            message = f"{what} needs a unit: expected {expected}, got {got}"
        else:
            message = f"{what} must be {expected}, got {got}"
        self.diag.error(message, q.span, hint=hint)

    def fraction(
        self,
        what: str,
        q: ast.Quantity,
        *,
        example: str,
        low: Decimal = Decimal(0),
        high: Decimal | None = None,
        allow_low: bool = False,
        allow_high: bool = True,
    ) -> Decimal | None:
        if unit_of(q.unit) is not Unit.FRACTION:
            self._wrong(what, "a percentage (5% or 50 bps)", q, example)
            return None
        value = q.value / (HUNDRED if q.unit == "%" else Decimal(10_000))
        too_low = value < low or (value == low and not allow_low)
        too_high = high is not None and (value > high or (value == high and not allow_high))
        if too_low or too_high:
            lower = "at least" if allow_low else "more than"
            rng = f"{lower} {fraction_text(low)}"
            if high is not None:
                rng += f" and {'at most' if allow_high else 'below'} {fraction_text(high)}"
            self.diag.error(f"{what} must be {rng}, got {q.text}", q.span)
            return None
        return value

    def leverage(self, what: str, q: ast.Quantity) -> Decimal | None:
        if unit_of(q.unit) is not Unit.LEVERAGE:
            hint_value = q.value if q.value > 0 else 5
            self._wrong(what, "a leverage written with x", q, f"{hint_value}x")
            return None
        if q.value <= 0:
            self.diag.error(f"{what} must be more than 0x, got {q.text}", q.span)
            return None
        return q.value

    def money(self, what: str, q: ast.Quantity, *, example: str) -> Decimal | None:
        if unit_of(q.unit) is not Unit.MONEY:
            self._wrong(what, "an amount of money (100 USD)", q, example)
            return None
        if q.value <= 0:
            self.diag.error(f"{what} must be more than 0, got {q.text}", q.span)
            return None
        return q.value

    def money_limit(self, what: str, q: ast.Quantity, *, example: str) -> MoneyLimit | None:
        kind = unit_of(q.unit)
        if kind is Unit.MONEY:
            amount = self.money(what, q, example=example)
            return None if amount is None else MoneyLimit(amount=amount)
        if kind is Unit.FRACTION:
            value = self.fraction(what, q, example=example, high=Decimal(1))
            return None if value is None else MoneyLimit(fraction=value)
        self._wrong(what, "an amount (100 USD) or a percentage of equity (2%)", q, example)
        return None

    def duration_or_bars(self, what: str, q: ast.Quantity) -> timedelta | int | None:
        kind = unit_of(q.unit)
        if kind is Unit.DURATION and q.unit is not None:
            if q.value <= 0:
                self.diag.error(f"{what} must be longer than 0, got {q.text}", q.span)
                return None
            if too_long(q.value, q.unit):
                self.diag.error(f"{what} must be at most ten years, got {q.text}", q.span)
                return None
            return duration(q.value, q.unit)
        if kind is Unit.BARS:
            if q.value < 1 or q.value != q.value.to_integral():
                self.diag.error(f"{what} must be a whole number of bars, got {q.text}", q.span)
                return None
            return int(q.value)
        self._wrong(what, "a duration (24h) or a bar count (1440 bars)", q, "24h")
        return None

    def duration(self, what: str, q: ast.Quantity, example: str) -> timedelta | None:
        if unit_of(q.unit) is not Unit.DURATION or q.unit is None:
            self._wrong(what, "a duration (10s, 5m, 24h)", q, example)
            return None
        if q.value <= 0:
            self.diag.error(f"{what} must be longer than 0, got {q.text}", q.span)
            return None
        if too_long(q.value, q.unit):
            self.diag.error(f"{what} must be at most ten years, got {q.text}", q.span)
            return None
        return duration(q.value, q.unit)

    def timeframe(self, q: ast.Quantity) -> str | None:
        text = f"{q.value}{q.unit or ''}"
        if unit_of(q.unit) is not Unit.DURATION or text not in TIMEFRAMES:
            self.diag.error(
                f"timeframe must be a bar length: {', '.join(TIMEFRAMES)}; got {q.text}",
                q.span,
                hint="timeframe 1m" if q.unit is None else None,
            )
            return None
        return text


# ---- risk ----------------------------------------------------------------------------------------


def read_risk(clauses: list[ast.Risk], diag: Diagnostics) -> RiskSpec:
    values = Values(diag)
    seen: dict[str, ast.Span] = {}
    fields: dict[str, Any] = {}
    warnings: list[MarginWarning] = []
    levels: dict[Decimal, ast.Span] = {}
    for clause in clauses:
        for item in clause.items:
            if isinstance(item, ast.MarginWarningItem):
                warning = _margin_warning(item, values)
                if warning is None:
                    continue
                if warning.level in levels:
                    diag.error(
                        f"a margin_warning at {item.level.text} is already set "
                        f"(line {levels[warning.level].line})",
                        item.span,
                    )
                    continue
                levels[warning.level] = item.span
                warnings.append(warning)
                continue
            if item.key in seen:
                diag.error(
                    f"{item.key} is set twice (first at line {seen[item.key].line})", item.span
                )
                continue
            seen[item.key] = item.span
            _risk_value(item, values, fields)
    if "max_duration" in fields:
        value = fields.pop("max_duration")
        if isinstance(value, int):
            fields["max_duration_bars"] = value
        else:
            fields["max_duration"] = value
    return RiskSpec(**fields, margin_warnings=tuple(sorted(warnings, key=lambda w: w.level)))


def _risk_value(item: ast.RiskItem, values: Values, fields: dict[str, Any]) -> None:
    q, key = item.value, item.key
    value: Any = None
    if key == "stop_loss":
        value = values.fraction(
            "stop_loss", q, example="stop_loss 5%", high=Decimal(1), allow_high=False
        )
    elif key == "take_profit":
        value = values.fraction("take_profit", q, example="take_profit 10%")
    elif key == "trailing_stop":
        value = values.fraction(
            "trailing_stop", q, example="trailing_stop 2%", high=Decimal(1), allow_high=False
        )
    elif key == "max_position":
        value = values.money_limit("max_position", q, example="max_position 1000 USD")
    elif key == "max_leverage":
        value = values.leverage("max_leverage", q)
    elif key == "max_drawdown":
        value = values.fraction("max_drawdown", q, example="max_drawdown 2%", high=Decimal(1))
    elif key == "daily_loss":
        value = values.money_limit("daily_loss", q, example="daily_loss 100 USD")
    elif key == "max_duration":
        value = values.duration_or_bars("max_duration", q)
    if value is not None:
        fields[key] = value


def _margin_warning(item: ast.MarginWarningItem, values: Values) -> MarginWarning | None:
    level = values.fraction(
        "margin_warning", item.level, example="margin_warning 80% reduce 50%", high=Decimal(1)
    )
    reduce = None
    if item.reduce is not None:
        reduce = values.fraction("reduce", item.reduce, example="reduce 50%", high=Decimal(1))
        if reduce is None:
            return None
    if level is None:
        return None
    return MarginWarning(level=level, action=item.action, reduce_fraction=reduce)  # type: ignore[arg-type]


# ---- hedge ---------------------------------------------------------------------------------------


def read_hedge(
    hedge: ast.Hedge,
    diag: Diagnostics,
    registry: Registry,
    *,
    main_leverage: Decimal,
    main_venue: str,
    main_symbol: str,
) -> HedgeSpec | None:
    values = Values(diag)
    ratio: Decimal | None = None
    leverage = main_leverage
    venue, symbol, account = main_venue, None, None
    within, action, retries = timedelta(seconds=10), "unwind", 0
    seen: dict[str, ast.Span] = {}
    ok = True
    for item in hedge.items:
        key = type(item).__name__
        if key in seen:
            diag.error(f"the hedge sets this twice (first at column {seen[key].column})", item.span)
            ok = False
            continue
        seen[key] = item.span
        if isinstance(item, ast.HedgeRatio):
            ratio = values.fraction("hedge ratio", item.value, example="ratio 20%", high=Decimal(1))
            ok = ok and ratio is not None
        elif isinstance(item, ast.HedgeLeverage):
            value = values.leverage("hedge leverage", item.value)
            ok = ok and value is not None
            leverage = value or leverage
        elif isinstance(item, ast.HedgeVenue):
            venue = item.venue
            if item.venue not in registry.exchanges:
                diag.error(registry.exchanges.unknown_message(item.venue), item.venue_span)
                ok = False
            symbol = item.symbol if item.symbol is not None else symbol
            account = item.account if item.account is not None else account
        elif isinstance(item, ast.HedgeMarket):
            symbol = item.symbol
        elif isinstance(item, ast.HedgeAccount):
            account = item.account
        elif isinstance(item, ast.HedgeWithin):
            value_within = values.duration("hedge within", item.within, "within 10s")
            ok = ok and value_within is not None
            within = value_within or within
            action, retries = item.action, item.retries
            if action == "retry" and retries < 1:
                diag.error("retry needs at least 1 attempt", item.span)
                ok = False
    if ratio is None:
        if "HedgeRatio" not in seen:
            diag.error("a hedge needs a ratio: hedge ratio 20%, …", hedge.span)
        return None
    if not ok:
        return None
    if venue == main_venue and (symbol is None or symbol == main_symbol) and account is None:
        diag.warning(
            f"this hedge trades the same {main_symbol} market on the same {venue} account "
            "as the main leg; on a one-way venue (like Hyperliquid) it nets against the "
            "main position",
            hedge.span,
            hint='give the hedge its own account: on hyperliquid account "hedge"',
        )
    return HedgeSpec(
        ratio=ratio,
        leverage=leverage,
        venue=venue,
        symbol=symbol,
        account=account,
        within=within,
        on_timeout=action,  # type: ignore[arg-type]
        retries=retries,
    )


# ---- backtest settings ---------------------------------------------------------------------------


def read_costs(
    settings: list[ast.Fees | ast.Slippage | ast.Fill | ast.InitialEquity],
    diag: Diagnostics,
    registry: Registry,
    defaults: ExecutionCosts | None = None,
) -> ExecutionCosts:
    """Settings of one scope; ``defaults`` (the file level) fill what this scope leaves out."""
    values = Values(diag)
    fields: dict[str, Any] = {}
    seen: dict[str, ast.Span] = {}
    for setting in settings:
        key = type(setting).__name__
        if key in seen:
            diag.error(
                f"{_setting_word(setting)} is set twice here (first at line {seen[key].line})",
                setting.span,
            )
            continue
        seen[key] = setting.span
        if isinstance(setting, ast.Fees):
            sides: set[str] = set()
            for fee in setting.items:
                if fee.side in sides:
                    diag.error(f"the {fee.side} fee is given twice", fee.span)
                    continue
                sides.add(fee.side)
                value = values.fraction(
                    f"{fee.side} fee",
                    fee.value,
                    example=f"{fee.side} 0.035%",
                    low=Decimal("-0.01") if fee.side == "maker" else Decimal(0),
                    allow_low=True,
                    high=Decimal("0.1"),
                )
                if value is not None:
                    fields[f"{fee.side}_fee"] = value
        elif isinstance(setting, ast.Slippage):
            _slippage(setting, values, diag, registry, fields)
        elif isinstance(setting, ast.Fill):
            fields["fill_at"] = setting.at
        elif isinstance(setting, ast.InitialEquity):
            amount = values.money(
                "initial_equity", setting.value, example="initial_equity 10000 USD"
            )
            if amount is not None:
                fields["initial_equity"] = amount
    base = defaults or ExecutionCosts()
    merged: dict[str, Any] = {
        "maker_fee": base.maker_fee,
        "taker_fee": base.taker_fee,
        "slippage_model": base.slippage_model,
        "slippage_params": dict(base.slippage_params),
        "fill_at": base.fill_at,
        "initial_equity": base.initial_equity,
    }
    merged.update(fields)
    return ExecutionCosts(**merged)


def _setting_word(setting: ast.Fees | ast.Slippage | ast.Fill | ast.InitialEquity) -> str:
    return {
        "Fees": "fees",
        "Slippage": "slippage",
        "Fill": "fill",
        "InitialEquity": "initial_equity",
    }[type(setting).__name__]


FIXED_SLIPPAGE = "fixed_bps"
"""The model ``slippage 2 bps`` (or ``slippage 0.02%``) stands for, with params ``{"bps": 2}``."""


def _slippage(
    setting: ast.Slippage,
    values: Values,
    diag: Diagnostics,
    registry: Registry,
    fields: dict[str, Any],
) -> None:
    from sparkstacker.lang.params import written_of

    if setting.value is not None:
        value = values.fraction(
            "slippage", setting.value, example="slippage 2 bps", allow_low=True, high=Decimal("0.1")
        )
        if value is not None:
            fields["slippage_model"] = FIXED_SLIPPAGE
            fields["slippage_params"] = {"bps": value * 10_000}
        return
    call = setting.model
    assert call is not None
    if call.func not in registry.slippage_models:
        diag.error(registry.slippage_models.unknown_message(call.func), call.name_span)
        return
    params: dict[str, Any] = {}
    for arg in call.args:
        written = written_of(arg.value)
        if arg.name is None or written is None:
            diag.error(
                f"slippage model parameters are named constants, like {call.func}(k: 0.1)",
                arg.span,
            )
            return
        constant = written.value
        if isinstance(constant, ast.Quantity):
            kind = unit_of(constant.unit)
            if kind is Unit.FRACTION:
                params[arg.name] = constant.value / (HUNDRED if constant.unit == "%" else 10_000)
            elif kind in (Unit.NUMBER, Unit.MONEY):
                params[arg.name] = constant.value
            else:
                diag.error(f"{arg.name} must be a number or a percentage", arg.span)
                return
        elif isinstance(constant, ast.BoolLiteral):
            params[arg.name] = constant.value
        elif isinstance(constant, ast.Word):
            params[arg.name] = constant.word
        else:
            params[arg.name] = constant.text
    try:
        registry.slippage_models.get(call.func).create(params)
    except (SparkStackerError, ValueError, TypeError) as exc:
        diag.error(f"{exc}", call.span)
        return
    fields["slippage_model"] = call.func
    fields["slippage_params"] = params


# ---- portfolio -----------------------------------------------------------------------------------


def read_portfolio(portfolio: ast.Portfolio, diag: Diagnostics) -> PortfolioPlan:
    values = Values(diag)
    fields: dict[str, Any] = {}
    seen: dict[str, ast.Span] = {}
    levels: list[tuple[GovernorLevel, ast.GovernorLevelItem]] = []
    for item in portfolio.items:
        if isinstance(item, ast.GovernorLevelItem):
            threshold = values.money_limit(
                f"on {item.metric}", item.threshold, example=f"on {item.metric} 5% halt"
            )
            if threshold is not None:
                level = GovernorLevel(item.metric, threshold, item.action)  # type: ignore[arg-type]
                levels.append((level, item))
            continue
        key = type(item).__name__
        if key in seen:
            diag.error(
                f"this portfolio setting is given twice (first at line {seen[key].line})", item.span
            )
            continue
        seen[key] = item.span
        if isinstance(item, ast.MaxGrossExposure):
            limit = values.money_limit(
                "max_gross_exposure", item.value, example="max_gross_exposure 5000 USD"
            )
            if limit is not None and limit.fraction is not None:
                limit = MoneyLimit(fraction=limit.fraction)
            if limit is not None:
                fields["max_gross_exposure"] = limit
        elif isinstance(item, ast.PortfolioMaxLeverage):
            value = values.leverage("max_leverage", item.value)
            if value is not None:
                fields["max_leverage"] = value
        elif isinstance(item, ast.DailyReset):
            reset = _daily_reset(item, diag)
            if reset is not None:
                fields["daily_reset"] = reset
        elif isinstance(item, ast.Hysteresis):
            value = values.fraction(
                "hysteresis",
                item.value,
                example="hysteresis 20%",
                allow_low=True,
                high=Decimal(1),
                allow_high=False,
            )
            if value is not None:
                fields["hysteresis"] = value
    _check_escalation(levels, diag)
    ordered = sorted(
        (level for level, _ in levels),
        key=lambda lv: (
            lv.metric,
            lv.threshold.amount is None,
            lv.threshold.amount or lv.threshold.fraction or 0,
        ),
    )
    span = portfolio.span
    return PortfolioPlan(
        **fields, levels=tuple(ordered), source=SourceRef(span.file, span.line, span.column)
    )


def _check_escalation(
    levels: list[tuple[GovernorLevel, ast.GovernorLevelItem]], diag: Diagnostics
) -> None:
    """Within one metric and one kind of threshold, a higher threshold needs a harsher action."""
    groups: dict[tuple[str, bool], list[tuple[Decimal, GovernorLevel, ast.GovernorLevelItem]]] = {}
    for level, item in levels:
        amount = level.threshold.amount
        value = amount if amount is not None else level.threshold.fraction
        assert value is not None
        groups.setdefault((level.metric, amount is not None), []).append((value, level, item))
    for entries in groups.values():
        entries.sort(key=lambda e: e[0])
        for (low, lower, low_item), (high, higher, item) in itertools.pairwise(entries):
            if low == high:
                diag.error(
                    f"two actions for {item.metric} at {item.threshold.text} "
                    f"(also at line {low_item.span.line})",
                    item.span,
                )
            elif ACTION_RANK[higher.action] <= ACTION_RANK[lower.action]:
                diag.error(
                    f"actions must escalate as the {item.metric} grows "
                    f"(reduce_only < halt < flatten): {higher.action} at {item.threshold.text} "
                    f"is not harsher than {lower.action} at {low_item.threshold.text}",
                    item.span,
                )


def _daily_reset(item: ast.DailyReset, diag: Diagnostics) -> time | None:
    hours, minutes = (int(p) for p in item.time.split(":"))
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        diag.error(f"{item.time} is not a time of day (00:00 to 23:59)", item.span)
        return None
    return time(hours, minutes)
