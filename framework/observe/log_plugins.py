"""Log sinks as plugins: they use the same hooks a third-party plugin would.

``OrderLogPlugin`` writes orders.log; ``RunLogPlugin`` tells the run's story in
spark_stacker.log (start, signals, fills, rejections, end) for a human reading the log.
"""

from __future__ import annotations

import logging

from sparkstacker.context import RunContext
from sparkstacker.hookspecs import hookimpl
from sparkstacker.model import FillEvent, OrderEvent, OrderEventKind, SignalEvent
from sparkstacker.observe.records import OrdersLog

log = logging.getLogger("sparkstacker.run")


class OrderLogPlugin:
    """Writes every ``on_order_event`` to orders.log as one flushed JSON line.

    Fills reach orders.log through their ``partial_fill``/``fill`` order events (with the
    ``fill`` object), so ``on_fill`` is deliberately not implemented here: no line twice.
    """

    def __init__(self, orders: OrdersLog) -> None:
        self.orders = orders

    @hookimpl
    def startup(self, run: RunContext) -> None:
        if self.orders.run_id is None:
            self.orders.run_id = run.run_id

    @hookimpl
    def on_order_event(self, event: OrderEvent) -> None:
        self.orders.write(event)


class RunLogPlugin:
    """Human-readable lines in spark_stacker.log for the run's lifecycle events."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.log = logger

    @hookimpl
    def startup(self, run: RunContext) -> None:
        strategies = ", ".join(run.strategies) or "no strategies"
        self.log.info("run %s started (%s): %s", run.run_id, run.mode, strategies)

    @hookimpl
    def shutdown(self, run: RunContext) -> None:
        self.log.info("run %s ended (%s)", run.run_id, run.mode)

    @hookimpl
    def on_signal(self, event: SignalEvent) -> None:
        if not self.log.isEnabledFor(logging.INFO):
            return
        signal = event.signal
        outcome = "acted on" if event.accepted else f"not acted on: {event.reason or 'no reason'}"
        price = f" @ {signal.price}" if signal.price is not None else ""
        self.log.info(
            "signal %s %s %s %s%s from %s (%s)",
            signal.strategy,
            signal.direction.value,
            signal.venue,
            signal.symbol,
            price,
            signal.source,
            outcome,
        )

    @hookimpl
    def on_order_event(self, event: OrderEvent) -> None:
        order = event.order
        if event.kind is OrderEventKind.REJECTED:
            self.log.warning(
                "order %s %s %s %s %s rejected: %s",
                order.client_order_id,
                order.venue,
                order.symbol,
                order.side.value,
                order.size,
                event.reason or order.reason or "no reason given",
            )
        elif self.log.isEnabledFor(logging.DEBUG):
            self.log.debug(
                "order %s %s (%s, filled %s of %s)",
                order.client_order_id,
                event.kind.value,
                order.status.value,
                order.filled_size,
                order.size,
            )

    @hookimpl
    def on_fill(self, event: FillEvent) -> None:
        if not self.log.isEnabledFor(logging.INFO):
            return
        fill = event.fill
        position = event.position
        after = (
            f"; position {position.size} @ {position.entry_price}" if position is not None else ""
        )
        pnl = f"; realized {event.realized_pnl}" if event.realized_pnl is not None else ""
        self.log.info(
            "fill %s %s %s %s @ %s fee %s %s (%s) order %s%s%s",
            fill.venue,
            fill.symbol,
            fill.side.value,
            fill.size,
            fill.price,
            fill.fee,
            fill.fee_currency,
            fill.liquidity.value,
            event.order.client_order_id,
            after,
            pnl,
        )
