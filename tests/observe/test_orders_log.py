"""orders.log: every lifecycle event, through a real plugin manager, lands as one JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

from sparkstacker.context import RunContext
from sparkstacker.model import OrderEventKind, OrderStatus, OrderType, Side, TimeInForce
from sparkstacker.observe import OrderLogPlugin, RunLogPlugin, observers
from sparkstacker.observe.records import ORDER_FIELDS


def _full_lifecycles(lifecycle):  # type: ignore[no-untyped-def]
    """Four orders covering every kind: fill in two parts, cancel, reject, expire."""
    filled = lifecycle(run_id="run-1")
    filled.intent()
    filled.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    filled.move(OrderStatus.ACCEPTED, OrderEventKind.ACCEPTED, venue_order_id="777")
    filled.fill("0.1", "2500.00", "0.0125")
    filled.fill("0.3", "2500.50", "-0.01", liquidity="maker")

    cancelled = lifecycle(client_order_id="ss-0002", side=Side.SELL, leg="hedge")
    cancelled.intent()
    cancelled.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    cancelled.move(OrderStatus.ACCEPTED, OrderEventKind.ACCEPTED)
    cancelled.cancel_requested()
    cancelled.move(OrderStatus.CANCELLED, OrderEventKind.CANCELLED, reason="strategy exit")

    rejected = lifecycle(client_order_id="ss-0003", type=OrderType.MARKET, price=None)
    rejected.intent()
    rejected.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    rejected.move(
        OrderStatus.REJECTED, OrderEventKind.REJECTED, reason="Insufficient margin to place order."
    )

    expired = lifecycle(
        client_order_id="ss-0004",
        type=OrderType.STOP,
        trigger_price=Decimal("2400"),
        price=None,
        tif=TimeInForce.IOC,
        reduce_only=True,
    )
    expired.intent()
    expired.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    expired.move(OrderStatus.EXPIRED, OrderEventKind.EXPIRED, reason="ioc: nothing crossed")
    return [filled, cancelled, rejected, expired]


def test_every_lifecycle_event_is_one_parseable_line(log_files, manager, lifecycle, json_lines):
    pm = manager(OrderLogPlugin(log_files.orders))
    orders = _full_lifecycles(lifecycle)
    events = [event for order in orders for event in order.events]
    for event in events:
        pm.hook.on_order_event(event=event)

    lines = json_lines(log_files.orders.file.path)
    assert len(lines) == len(events) == 16
    assert [line["kind"] for line in lines] == [event.kind.value for event in events]
    kinds = {line["kind"] for line in lines}
    assert kinds == {
        "intent",
        "submitted",
        "accepted",
        "partial_fill",
        "fill",
        "cancel_requested",
        "cancelled",
        "rejected",
        "expired",
    }
    assert [line["seq"] for line in lines] == list(range(1, 17))
    for line in lines:
        assert tuple(line) == ORDER_FIELDS


def test_fields_carry_the_order_as_it_stands(log_files, manager, lifecycle, json_lines):
    pm = manager(OrderLogPlugin(log_files.orders))
    filled, cancelled, rejected, expired = _full_lifecycles(lifecycle)
    for order in (filled, cancelled, rejected, expired):
        for event in order.events:
            pm.hook.on_order_event(event=event)
    lines = json_lines(log_files.orders.file.path)
    by_kind = {(line["client_order_id"], line["kind"]): line for line in lines}

    intent = by_kind[("ss-0001", "intent")]
    assert intent["status"] == "new"
    assert intent["ts"] == "2025-03-01T12:00:01.000Z"
    assert intent["run_id"] == "run-1"
    assert intent["venue"] == "hyperliquid"
    assert intent["symbol"] == "ETH-USD"
    assert intent["side"] == "buy"
    assert intent["type"] == "limit"
    assert intent["tif"] == "gtc"
    assert intent["size"] == "0.4"
    assert intent["price"] == "2500.50"
    assert intent["leverage"] == "10"
    assert intent["strategy"] == "macd_eth_1m"
    assert intent["leg"] == "main"
    assert intent["group_id"] == "g-1"
    assert intent["venue_order_id"] is None
    assert intent["fill"] is None

    partial = by_kind[("ss-0001", "partial_fill")]
    assert partial["status"] == "partially_filled"
    assert partial["venue_order_id"] == "777"
    assert Decimal(partial["filled_size"]) == Decimal("0.1")
    assert partial["fill"]["fill_id"] == "f1"
    assert Decimal(partial["fill"]["price"]) == Decimal("2500.00")
    assert Decimal(partial["fill"]["fee"]) == Decimal("0.0125")

    full = by_kind[("ss-0001", "fill")]
    assert full["status"] == "filled"
    assert Decimal(full["filled_size"]) == Decimal("0.4")
    # VWAP by hand: (0.1 * 2500.00 + 0.3 * 2500.50) / 0.4 = 2500.375
    assert Decimal(full["avg_fill_price"]) == Decimal("2500.375")
    # fees: 0.0125 paid, 0.01 rebate
    assert Decimal(full["fees"]) == Decimal("0.0025")
    assert full["fill"]["liquidity"] == "maker"

    assert by_kind[("ss-0002", "cancelled")]["reason"] == "strategy exit"
    assert by_kind[("ss-0002", "cancelled")]["leg"] == "hedge"
    assert by_kind[("ss-0002", "cancel_requested")]["status"] == "accepted"
    rejected_line = by_kind[("ss-0003", "rejected")]
    assert rejected_line["reason"] == "Insufficient margin to place order."
    assert rejected_line["type"] == "market"
    assert rejected_line["price"] is None
    expired_line = by_kind[("ss-0004", "expired")]
    assert expired_line["trigger_price"] == "2400"
    assert expired_line["reduce_only"] is True
    assert expired_line["tif"] == "ioc"
    assert expired_line["status"] == "expired"


def test_run_id_comes_from_startup_when_the_event_has_none(tmp_path, manager, lifecycle):
    from sparkstacker.observe import setup_logging

    with setup_logging(tmp_path, fmt="text", level="INFO") as files:
        pm = manager(OrderLogPlugin(files.orders))
        run = RunContext(run_id="paper-42", mode="paper", registry=None)  # type: ignore[arg-type]
        pm.hook.startup(run=run)
        order = lifecycle()
        pm.hook.on_order_event(event=order.intent())
        line = json.loads(files.orders.file.path.read_text().splitlines()[0])
    assert line["run_id"] == "paper-42"


def test_orders_log_is_json_even_when_the_main_log_is_text(log_files, manager, lifecycle):
    assert log_files.fmt == "text"
    pm = manager(OrderLogPlugin(log_files.orders))
    order = lifecycle()
    pm.hook.on_order_event(event=order.intent())
    (line,) = log_files.orders.file.path.read_text().splitlines()
    assert json.loads(line)["kind"] == "intent"


def test_rejections_also_reach_the_main_log(log_files, manager, lifecycle):
    pm = manager(*[plugin for _, plugin in observers(log_files)])
    order = lifecycle(client_order_id="ss-9")
    pm.hook.on_order_event(event=order.intent())
    pm.hook.on_order_event(
        event=order.move(
            OrderStatus.REJECTED, OrderEventKind.REJECTED, reason="Order has invalid size."
        )
    )
    main = log_files.main_path.read_text()
    assert "WARNING" in main
    assert "ss-9" in main
    assert "rejected: Order has invalid size." in main
    assert len(log_files.orders.file.path.read_text().splitlines()) == 2


def test_signals_and_fills_tell_the_story_in_the_main_log(
    log_files, manager, lifecycle, signal_event
):
    pm = manager(RunLogPlugin())
    run = RunContext(run_id="run-1", mode="backtest", registry=None, strategies=("macd",))  # type: ignore[arg-type]
    pm.hook.startup(run=run)
    pm.hook.on_signal(event=signal_event(accepted=False, reason="max exposure reached"))
    order = lifecycle()
    order.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    _, fill_event = order.fill("0.4", "2501", "0.1", realized=Decimal("-3.5"))
    pm.hook.on_fill(event=fill_event)
    pm.hook.shutdown(run=run)
    text = log_files.main_path.read_text()
    assert "run run-1 started (backtest): macd" in text
    assert "not acted on: max exposure reached" in text
    assert "fill hyperliquid ETH-USD buy 0.4 @ 2501 fee 0.1 USD (taker) order ss-0001" in text
    assert "realized -3.5" in text
    assert "run run-1 ended" in text
    assert "[run-1] sparkstacker.run" in text


def test_a_line_survives_a_crash_right_after_it_was_logged(tmp_path: Path):
    """A process killed without cleanup (os._exit) still has the line for the logged event."""
    script = textwrap.dedent(
        f"""
        import os
        from datetime import UTC, datetime
        from decimal import Decimal
        from pathlib import Path
        from sparkstacker.model import Order, OrderEvent, OrderEventKind, Side
        from sparkstacker.observe import OrderLogPlugin, setup_logging

        files = setup_logging(Path({str(tmp_path)!r}), fmt="json", level="INFO")
        plugin = OrderLogPlugin(files.orders)
        order = Order(client_order_id="crash-1", venue="sim", symbol="ETH-USD", side=Side.BUY,
                      price=Decimal("1"), size=Decimal("1"))
        plugin.on_order_event(OrderEvent(kind=OrderEventKind.INTENT, order=order,
                                         timestamp=datetime.now(UTC)))
        os._exit(3)
        """
    )
    env = {**os.environ, "SPARKSTACKER_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 3, result.stderr
    (line,) = (tmp_path / "orders.log").read_text().splitlines()
    assert json.loads(line)["client_order_id"] == "crash-1"


def test_writing_after_close_is_an_error_not_a_lost_line(tmp_path, lifecycle):
    import pytest
    from sparkstacker.errors import SparkStackerError
    from sparkstacker.observe import setup_logging

    files = setup_logging(tmp_path, fmt="text", level="INFO")
    files.close()
    with pytest.raises(SparkStackerError, match=r"orders\.log is closed"):
        OrderLogPlugin(files.orders).on_order_event(lifecycle().intent())


def test_venue_status_and_annotations_are_kept_verbatim(log_files, lifecycle, json_lines):
    from sparkstacker.model import OrderEvent

    order = lifecycle()
    order.order = order.order.annotate(risk="max_exposure ok", audit="v1")
    order.move(OrderStatus.SUBMITTED, OrderEventKind.SUBMITTED)
    rejected = order.order.transition(OrderStatus.REJECTED, reason="Post only order would cross")
    event = OrderEvent(
        kind=OrderEventKind.REJECTED,
        order=rejected,
        timestamp=order.clock,
        venue_status="badAloPxRejected",
    )
    OrderLogPlugin(log_files.orders).on_order_event(event)
    (line,) = json_lines(log_files.orders.file.path)
    assert line["venue_status"] == "badAloPxRejected"
    assert line["reason"] == "Post only order would cross"  # from the order when the event has none
    assert line["annotations"] == {"risk": "max_exposure ok", "audit": "v1"}
