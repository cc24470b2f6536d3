"""Every hook a Spark Stacker plugin can implement, grouped by phase.

Built-in exchanges, indicators, sizers and strategies use these same hooks through the same
``sparkstacker`` entry-point group a third party uses. Implementations may accept only the
arguments they need. docs/plugins.md documents each signature (a test keeps them in step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer
    from sparkstacker.bundles import RuleFile
    from sparkstacker.context import RunContext
    from sparkstacker.exchange import ExchangePlugin
    from sparkstacker.indicators import IndicatorSpec
    from sparkstacker.model import FillEvent, OrderEvent, OrderSubmission, SignalEvent
    from sparkstacker.sizing import Sizer
    from sparkstacker.slippage import SlippagePlugin
    from sparkstacker.strategy import StrategyPlugin

PROJECT = "sparkstacker"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---- registration: collection hooks, called once when the registry is built -----------------


@hookspec
def register_exchanges() -> list[ExchangePlugin]:
    """Return exchange factories (venue adapters) this plugin provides."""


@hookspec
def register_indicators() -> list[IndicatorSpec]:
    """Return indicator specs usable from rule files and Python strategies."""


@hookspec
def register_sizers() -> list[Sizer]:
    """Return position sizers usable in a rule file's ``size`` clause."""


@hookspec
def register_strategies() -> list[StrategyPlugin]:
    """Return Python strategy factories a rule file can configure with ``uses``."""


@hookspec
def register_rule_files() -> list[RuleFile]:
    """Return rule files this distribution ships (a strategy bundle)."""


@hookspec
def register_slippage_models() -> list[SlippagePlugin]:
    """Return slippage models the simulated venue can use for taker fills."""


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add sub-commands to the ``spark-stacker`` command line."""


# ---- run lifecycle ---------------------------------------------------------------------------


@hookspec
def startup(run: RunContext) -> None:
    """Called once when a backtest, paper or live run starts, before the first bar."""


@hookspec
def shutdown(run: RunContext) -> None:
    """Called once when a run ends, after open orders were handled and the journal flushed."""


# ---- decisions and execution -----------------------------------------------------------------


@hookspec
def on_signal(event: SignalEvent) -> None:
    """Called for every signal a strategy produced, whether or not it led to an order."""


@hookspec(firstresult=True)
def submit_order(submission: OrderSubmission) -> OrderSubmission | None:
    """Approve an order about to be sent; ``wrapper=True`` impls may veto or annotate it.

    The kernel's own implementation returns the submission unchanged. A wrapper vetoes by
    raising :class:`~sparkstacker.errors.OrderVetoed` and annotates by returning
    ``(yield).annotate(key=value)``.
    """


@hookspec
def on_order_event(event: OrderEvent) -> None:
    """Called for every order lifecycle step: intent, submitted, accepted, fills, cancel, reject."""


@hookspec
def on_fill(event: FillEvent) -> None:
    """Called for every fill, with the order and the position after it."""
