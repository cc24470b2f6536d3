"""The typed syntax tree of a rule file: frozen dataclasses, each node with a :class:`Span`.

Spans are excluded from equality (``compare=False``), so two trees that differ only in layout
compare equal — ``fmt`` relies on that to prove its output means the same as its input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Span:
    """Where a node sits in its file: 1-based line and column, ``end_*`` exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int


NO_SPAN = Span("<rules>", 1, 1, 1, 2)


# ---- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """A number as written, with its unit word (``%``, ``bps``, ``USD``, ``x``, ``h``, …)."""

    value: Decimal
    unit: str | None
    text: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)

    def __str__(self) -> str:
        return self.text


# ---- expressions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    quantity: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class BoolLiteral:
    value: bool
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Name:
    name: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class AtTimeframe:
    """``close@4h``: a bar field of a higher timeframe (only closed bars are visible)."""

    name: str
    timeframe: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Arg:
    name: str | None
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Arg, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Attr:
    """``m.signal``: one output of a multi-output indicator."""

    target: Expr
    name: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Index:
    """``x[n]``: the value ``n`` bars ago (``n`` must be a non-negative whole number)."""

    target: Expr
    offset: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Neg:
    operand: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Binary:
    op: str  # + - * /
    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Compare:
    op: str  # < <= > >= == !=
    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Crosses:
    direction: str  # above | below
    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Logic:
    op: str  # and | or
    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    operand: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Expr = (
    Literal
    | BoolLiteral
    | Name
    | AtTimeframe
    | Call
    | Attr
    | Index
    | Neg
    | Binary
    | Compare
    | Crosses
    | Logic
    | Not
)

# ---- statements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    path: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Let:
    name: str
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Market:
    symbol: str
    venue: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    venue_span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class TimeframeStmt:
    value: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Enter:
    side: str  # long | short
    condition: Expr
    confidence: Expr | None = None
    order: str = "market"  # market | limit
    limit_price: Expr | None = None
    explicit_order: bool = False  # ``at market`` written out
    post_only: bool = False
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Exit:
    side: str | None  # None: exits either side
    condition: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Size:
    call: Call
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Leverage:
    value: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class HedgeRatio:
    value: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class HedgeLeverage:
    value: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class HedgeVenue:
    venue: str
    symbol: str | None = None
    account: str | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    venue_span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class HedgeMarket:
    symbol: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class HedgeAccount:
    account: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class HedgeWithin:
    within: Quantity
    action: str  # unwind | retry | keep
    retries: int = 0
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


HedgeItem = HedgeRatio | HedgeLeverage | HedgeVenue | HedgeMarket | HedgeAccount | HedgeWithin


@dataclass(frozen=True)
class Hedge:
    items: tuple[HedgeItem, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class RiskItem:
    key: str
    value: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class MarginWarningItem:
    level: Quantity
    action: str  # close_hedge_if_profitable | reduce | close_all
    reduce: Quantity | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Risk:
    items: tuple[RiskItem | MarginWarningItem, ...]
    block: bool = False
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Word:
    """A bare word as a parameter value (``reference mid``)."""

    word: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Text:
    text: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


ParamValue = Quantity | Word | Text | BoolLiteral


@dataclass(frozen=True)
class Param:
    name: str
    value: ParamValue
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Params:
    items: tuple[Param, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Fee:
    side: str  # maker | taker
    value: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Fees:
    items: tuple[Fee, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Slippage:
    value: Quantity | None = None
    model: Call | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Fill:
    at: str  # next_open | close
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class InitialEquity:
    value: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Setting = Fees | Slippage | Fill | InitialEquity

Statement = (
    Market
    | TimeframeStmt
    | Let
    | Enter
    | Exit
    | Size
    | Leverage
    | Hedge
    | Risk
    | Params
    | Fees
    | Slippage
    | Fill
    | InitialEquity
)


@dataclass(frozen=True)
class Strategy:
    name: str
    uses: str | None
    body: tuple[Statement, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    name_span: Span = field(default=NO_SPAN, compare=False, repr=False)
    uses_span: Span = field(default=NO_SPAN, compare=False, repr=False)


# ---- portfolio -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaxGrossExposure:
    value: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class PortfolioMaxLeverage:
    value: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class GovernorLevelItem:
    metric: str  # drawdown | daily_loss
    threshold: Quantity
    action: str  # reduce_only | halt | flatten
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class DailyReset:
    time: str  # HH:MM
    timezone: str | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True)
class Hysteresis:
    value: Quantity
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


PortfolioItem = (
    MaxGrossExposure | PortfolioMaxLeverage | GovernorLevelItem | DailyReset | Hysteresis
)


@dataclass(frozen=True)
class Portfolio:
    items: tuple[PortfolioItem, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


TopItem = Import | Let | Strategy | Portfolio | Fees | Slippage | Fill | InitialEquity


@dataclass(frozen=True)
class RuleFile:
    items: tuple[TopItem, ...]
    file: str = field(default="<rules>", compare=False)
    span: Span = field(default=NO_SPAN, compare=False, repr=False)

    @property
    def strategies(self) -> tuple[Strategy, ...]:
        return tuple(i for i in self.items if isinstance(i, Strategy))
