"""The order-cycle benchmark's floors do the engine's cycle, not less (numbers live in
benchmarks/RESULTS.md; nothing here looks at a time)."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sparkstacker.model import OrderStatus
from sparkstacker.registry import Registry

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import bench_event_cycle  # noqa: E402
import results_file  # noqa: E402

CYCLES = 41


@pytest.fixture(scope="module")
def engine_run() -> bench_event_cycle.CycleRun:
    return bench_event_cycle.engine_cycles(Registry.load(autoload=False), CYCLES)


def test_the_engine_fills_every_order_but_the_last_and_pays_fees(
    engine_run: bench_event_cycle.CycleRun,
) -> None:
    assert engine_run.fills == CYCLES - 1
    # every fill pays the taker fee and crosses 1 bp of slippage: equity only falls
    assert engine_run.equity < bench_event_cycle.INITIAL


@pytest.mark.parametrize("contracts", [False, True], ids=["lean", "contract"])
def test_each_floor_ends_with_the_engines_fills_and_equity(
    engine_run: bench_event_cycle.CycleRun, contracts: bool
) -> None:
    floor = bench_event_cycle.lean_cycles(CYCLES, contracts=contracts)
    assert (floor.fills, floor.equity) == (engine_run.fills, engine_run.equity)


def test_the_comparison_sees_a_different_fee(
    engine_run: bench_event_cycle.CycleRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_event_cycle, "TAKER_FEE", Decimal("0.00046"))
    floor = bench_event_cycle.lean_cycles(CYCLES)
    assert floor.fills == engine_run.fills
    assert floor.equity < engine_run.equity


def test_the_contract_floor_builds_the_models_the_contracts_pass() -> None:
    lean = bench_event_cycle.LeanCycle(bench_event_cycle.ContractModels())
    lean.signal(1, bench_event_cycle.PRICE, bench_event_cycle.T0)
    fills = lean.venue.open(bench_event_cycle.T0 + 60_000, bench_event_cycle.PRICE)
    lean.on_fills(fills)
    contracts = lean.contracts
    assert contracts is not None
    assert contracts.last_order is not None
    order = contracts.last_order
    assert order.status is OrderStatus.FILLED
    assert order.filled_size == Decimal("1.0000")
    assert order.avg_fill_price == Decimal("2000.2")  # 1 bp above the open, on the tick grid
    event = contracts.last_event
    assert event is not None
    assert event.report is not None
    assert event.report.fills[0].fee == fills[0].fee
    assert not contracts.working  # a filled order is no longer working


def test_a_section_is_replaced_in_place(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nbefore\n<!-- x:begin -->\nold\n<!-- x:end -->\nafter\n")
    results_file.replace_section(results, "<!-- x:begin -->", "<!-- x:end -->", "new")
    assert results.read_text() == (
        "# Results\n\nbefore\n<!-- x:begin -->\nnew\n<!-- x:end -->\nafter\n"
    )
    results_file.replace_section(results, "<!-- y:begin -->", "<!-- y:end -->", "added")
    assert results.read_text().endswith("after\n\n<!-- y:begin -->\nadded\n<!-- y:end -->\n")
