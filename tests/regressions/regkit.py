"""Helpers for the production-failure regression suite: real engine, real adapters, replayed HTTP.

Import it after putting this folder on sys.path (``conftest.py`` does that).

* :class:`Wire` records every HTTP body an adapter sends (above the replayer), so a test can
  read the exact order sizes, prices and leverage that left;
* :func:`play` replays one cassette and, on leaving, checks that every recorded answer was
  asked for (a request the cassette does not hold already fails inside the adapter);
* :func:`hyperliquid` builds a testnet adapter whose markets come from the hand-written testnet
  meta; :func:`build_engine` wires an :class:`Engine` the way the runners do;
* :func:`close_bar` drives one bar close the way a paper/live runtime does: marks, clock hooks,
  the strategy's decision, then ``settle`` (protective orders and hedges for orders that ended).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sparkstacker.context import RunContext
from sparkstacker.engine.clock import SimulatedClock
from sparkstacker.engine.engine import Engine
from sparkstacker.engine.journaling import EngineJournal
from sparkstacker.engine.setup import create_runtime
from sparkstacker.engine.slots import StrategySlot
from sparkstacker.exchange import Exchange
from sparkstacker.lang import compile_text
from sparkstacker.lang.plan import StrategyPlan
from sparkstacker.plugins import make_plugin_manager
from sparkstacker.registry import Registry
from sparkstacker_plugins.exchanges.hyperliquid.testing import (
    FakeClock,
    SentBodies,
    make_test_exchange,
    replay_vcr,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CASSETTES = HERE / "cassettes"
ADAPTER_CASSETTES = REPO / "tests" / "cassettes" / "hyperliquid_exchange"
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z: the engine's first bar (the adapter clock's start)
MINUTE = 60_000
D = Decimal


class Wire(SentBodies):
    """The JSON bodies the adapters really sent, in order (``requests.Session.send``)."""

    def orders(self) -> list[dict[str, Any]]:
        """Every order on the wire (``{"a": asset, "b": is_buy, "p": px, "s": sz, "r": …}``)."""
        return [
            order
            for body in self.sent
            if body.get("action", {}).get("type") == "order"
            for order in body["action"]["orders"]
        ]


def cassette(name: str) -> Path:
    """A cassette of this suite, else one of the adapter's own hand-written cassettes."""
    for folder in (CASSETTES, ADAPTER_CASSETTES):
        path = folder / f"{name}.yaml"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no cassette named {name!r} in {CASSETTES} or {ADAPTER_CASSETTES}")


@contextmanager
def play(path: Path, *, all_played: bool = True) -> Iterator[Any]:
    """Replay ``path`` (network blocked, nothing recorded); check every answer was used."""
    with replay_vcr().use_cassette(str(path)) as recorded:
        yield recorded
    if all_played:
        unused = len(recorded.data) - recorded.play_count
        assert recorded.all_played, f"{path.name}: {unused} recorded answer(s) were never asked for"


def hyperliquid(clock: FakeClock, name: str = "hyperliquid", **overrides: Any) -> Any:
    """A testnet adapter whose markets were loaded from the hand-written testnet meta."""
    exchange = make_test_exchange(clock, name, **overrides)
    with play(cassette("meta_testnet")):
        import asyncio

        asyncio.run(exchange.markets())
    return exchange


def compile_one(registry: Registry, text: str) -> StrategyPlan:
    [plan] = compile_text(text, registry).strategies
    return plan


def build_engine(
    registry: Registry,
    venues: Mapping[str, Exchange],
    plans: Sequence[StrategyPlan],
    *,
    run_id: str = "regression-run",
    mode: str = "live",
    journal: EngineJournal | None = None,
    plugins: Iterable[object] = (),
    hedge_venue: str | None = None,
    start_ms: int = T0,
) -> tuple[Engine, list[StrategySlot]]:
    """An engine on ``venues`` with each plan attached (not started), as the runners build it."""
    run = RunContext(
        run_id=run_id,
        mode=mode,  # type: ignore[arg-type]
        registry=registry,
        strategies=tuple(p.name for p in plans),
    )
    engine = Engine(
        run=run,
        pm=make_plugin_manager(plugins=tuple(plugins), autoload=False),
        venues=venues,
        clock=SimulatedClock(start_ms),
        journal=journal,
    )
    slots = [
        engine.add_strategy(plan, create_runtime(registry, plan), hedge_venue=hedge_venue)
        for plan in plans
    ]
    return engine, slots


async def close_bar(engine: Engine, index: int, close: float, volume: float = 1_000.0) -> None:
    """Bar ``index`` (a flat bar at ``close``) closes: marks, clock hooks, decisions, settle."""
    clock = engine.clock
    assert isinstance(clock, SimulatedClock)
    clock.set_ms(T0 + (index + 1) * MINUTE)
    for slot in engine.slots:
        for venue in engine.venues:
            engine.accounting.set_mark(venue, slot.symbol, D(repr(close)))
    await engine.on_clock()
    bar = (close, close, close, close, volume)
    for slot in engine.slots:
        await engine.on_bar_close(slot, index, T0 + (index + 1) * MINUTE, bar)
    await engine.settle()


def merged_cassette(dest: Path, *parts: tuple[Path, int | None]) -> Path:
    """One cassette in ``dest`` (a tmp folder) from interactions of several: ``(path, index)``,
    ``index`` None for all of them. Real recordings stay in ../shared; only the test's tmp copy
    joins them with hand-written answers, because one adapter call may need both."""
    import yaml

    interactions: list[Any] = []
    for path, index in parts:
        recorded = yaml.safe_load(path.read_text())["interactions"]
        interactions.extend(recorded if index is None else [recorded[index]])
    dest.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}))
    return dest


def answer_cassette(dest: Path, request_type: str, body: Any, *, mainnet: bool = True) -> Path:
    """A one-answer ``/info`` cassette in ``dest`` (a tmp folder) serving ``body`` as JSON."""
    import yaml

    host = "api.hyperliquid.xyz" if mainnet else "api.hyperliquid-testnet.xyz"
    json_headers = {"Content-Type": ["application/json"]}
    interaction = {
        "request": {
            "body": json.dumps({"type": request_type}),
            "headers": json_headers,
            "method": "POST",
            "uri": f"https://{host}/info",
        },
        "response": {
            "body": {"string": json.dumps(body)},
            "headers": json_headers,
            "status": {"code": 200, "message": "OK"},
        },
    }
    dest.write_text(yaml.safe_dump({"interactions": [interaction], "version": 1}))
    return dest
