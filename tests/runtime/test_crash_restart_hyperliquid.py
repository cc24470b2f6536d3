"""Crash/restart through the real Hyperliquid adapter: ``spark-stacker run --live`` against a
stateful local exchange (``hl_exchange_server``) that outlives the killed process.

Each test runs the live runtime in a child process — real adapter, real SDK, real HTTP and
websocket on localhost (``--plugin loopback_only``: nothing else is reachable) — kills it at one
point, restarts it, stops it gracefully, and compares the journal (the engine's write-ahead
record) with the venue's own memory (orders by cloid, fills by tid, positions, every request
received): no cloid submitted twice, every venue order backed by a journaled intent, no intent
left with an unknown outcome, the journal's fills equal to the venue's, positions equal, every
order's filled size and openness equal. Each runs on SQLite and on PostgreSQL.

Where the process dies:

1. ``after_intent`` (``fault_plugin``, in the child): the intent is journaled, the request never
   left;
2. the venue executed the opening order, then killed the process before answering;
3. a resting stop-loss fired and filled on the venue, which killed the process before pushing
   the fill;
4. no kill: the venue executed the opening order but answered only after the client's HTTP
   timeout; the adapter waits out the order's expiry, finds it by cloid, never sends it again.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from hl_exchange_server import LocalExchange
from runkit import child_env, command
from sparkstacker.errors import ConfigError
from sparkstacker.journal import Journal
from sparkstacker.model import Fill, Order, OrderEventKind, OrderStatus, Side
from sparkstacker.runtime.recovery import NEVER_REACHED
from sparkstacker_plugins.exchanges.hyperliquid.ids import cloid_for
from sparkstacker_plugins.exchanges.hyperliquid.settings import load_settings
from sparkstacker_plugins.exchanges.hyperliquid.testing import TEST_AGENT_KEY, TEST_MASTER

HOLD_LONG = """
strategy "hold_long" {
    market ETH-USD on hyperliquid
    timeframe 1m
    let fast = ema(close, 3)
    enter long when position <= 0 and fast > 0
    size fixed_units(0.01)
    leverage 5x
    risk stop_loss 2%, take_profit 4%
}
"""
SIZE = Decimal("0.01")
FAULT_EXIT = 77  # fault_plugin's os._exit code
KILLED = -signal.SIGKILL
CREDENTIALS = {
    "SPARKSTACKER_HYPERLIQUID_PRIVATE_KEY": TEST_AGENT_KEY,  # throwaway, never funded
    "SPARKSTACKER_HYPERLIQUID_ACCOUNT_ADDRESS": TEST_MASTER,
}


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


_CHILDREN: list[Child] = []


@pytest.fixture
def venue() -> Iterator[LocalExchange]:
    """The local exchange; on the way out, any run a failed test left behind is killed."""
    exchange = LocalExchange()
    with exchange.running():
        try:
            yield exchange
        finally:
            while _CHILDREN:
                child = _CHILDREN.pop()
                if child.proc.poll() is None:
                    child.proc.kill()
                    child.proc.wait(30)


def start(
    tmp_path: Path,
    venue: LocalExchange,
    db: str,
    *plugins: str,
    env: dict[str, str] | None = None,
) -> Child:
    """``spark-stacker run --live --yes`` on the local venue; the venue may kill it."""
    rules = tmp_path / "hold_long.rules"
    rules.write_text(HOLD_LONG)
    n = len(list(tmp_path.glob("child-*.log")))
    log = tmp_path / f"child-{n}.log"
    args = ["run", "--live", "--yes", str(rules), "--db", db, "--metrics-port", "0"]
    for plugin in ("loopback_only", *plugins):
        args += ["--plugin", plugin]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            command(*args),
            cwd=tmp_path,
            env=child_env({**CREDENTIALS, **venue.env, **(env or {})}),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    venue.target_pid = proc.pid
    child = Child(proc, log)
    _CHILDREN.append(child)
    return child


def wait_until(child: Child, ready: Callable[[], bool], what: str, limit: float = 90) -> None:
    """Poll until ``ready``; fail when the child ends first (or after ``limit`` s, a hang)."""
    deadline = time.monotonic() + limit
    while not ready():
        code = child.proc.poll()
        assert code is None, f"the run ended ({code}) before {what}:\n{child.output()}"
        assert time.monotonic() < deadline, f"gave up waiting for {what}:\n{child.output()}"
        time.sleep(0.05)


def ended(child: Child, limit: float = 90) -> int:
    try:
        return child.proc.wait(limit)
    except subprocess.TimeoutExpired:
        child.proc.kill()
        raise AssertionError(f"the run did not end:\n{child.output()}") from None


def trading(child: Child) -> bool:
    """The run is in its bar loop (signal handlers installed): its run.json says so."""
    try:
        status = json.loads((child.log.parent / "spark_stacker_state" / "run.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(status.get("pid") == child.proc.pid and (status.get("bars") or 0) > 0)


def stop(child: Child) -> None:
    """SIGTERM: a graceful stop at the next bar boundary (once the run is trading)."""
    wait_until(child, lambda: trading(child), "the run trades bars")
    child.proc.send_signal(signal.SIGTERM)
    code = ended(child)
    assert code == 0, child.output()


def protected(venue: LocalExchange, positions: int = 1) -> bool:
    """The venue holds the ``positions``-th long with its stop and target resting."""
    triggers = venue.open_orders(triggers=True)
    return (
        len(venue.opening_orders()) == positions
        and venue.position() == SIZE
        and sorted(o.tpsl or "" for o in triggers) == ["sl", "tp"]
        and all(o.sz == SIZE for o in triggers)
    )


def looked_up(venue: LocalExchange) -> list[str]:
    """Every ``orderStatus`` reference the venue was asked for (cloids as sent)."""
    return [str(body["oid"]) for body in venue.info_requests("orderStatus")]


# ---- the journal, read independently of the venue ---------------------------------------------


@dataclass
class JournalView:
    orders: dict[str, Order]  # by client order id
    fills: list[Fill]
    unacknowledged: list[Order]

    def by_cloid(self) -> dict[str, Order]:
        return {cloid_for(coid): order for coid, order in self.orders.items()}


def journal_view(db: str) -> JournalView:
    with Journal(db, durability="fast") as journal:
        orders: dict[str, Order] = {}
        fills: list[Fill] = []
        for run in journal.runs(mode="live"):
            orders.update({o.client_order_id: o for o in journal.orders(run.id)})
            fills.extend(journal.fills(run.id))
        unacknowledged = journal.unacknowledged_intents(mode="live")
    return JournalView(orders, fills, unacknowledged)


def assert_consistent(venue: LocalExchange, db: str) -> JournalView:
    """The invariants every crash/restart must leave, journal against the venue's memory."""
    journal = journal_view(db)
    ours = journal.by_cloid()
    with venue.lock:
        sent = dict(venue.account.submissions)
        on_venue = {o.cloid or f"oid {o.oid}": o for o in venue.account.orders.values()}
        venue_fills = {str(row["tid"]): row for row in venue.account.fills}
    twice = {cloid: n for cloid, n in sent.items() if n > 1}
    assert not twice, f"cloids sent more than once: {twice}"
    strangers = set(on_venue) - set(ours)
    assert not strangers, f"orders on the venue without a journaled intent: {strangers}"
    assert journal.unacknowledged == [], "intents whose venue outcome is still unknown"
    for cloid, order in ours.items():
        if order.reason == NEVER_REACHED:
            assert cloid not in sent, f"{order.client_order_id} is never-reached but was sent"
        else:
            assert cloid in sent, f"{order.client_order_id} ({order.status}) never reached it"
    mine = {f.fill_id: f for f in journal.fills}
    assert len(mine) == len(journal.fills), "a fill is journaled twice"
    assert set(mine) == set(venue_fills), (
        f"lost fills: {sorted(set(venue_fills) - set(mine))}; "
        f"fills the venue never made: {sorted(set(mine) - set(venue_fills))}"
    )
    for tid, row in venue_fills.items():
        fill = mine[tid]
        assert fill.client_order_id is not None
        assert cloid_for(fill.client_order_id) == row["cloid"]
        assert (fill.venue_order_id, fill.side, fill.size, fill.price, fill.fee) == (
            str(row["oid"]),
            Side.BUY if row["side"] == "B" else Side.SELL,
            Decimal(row["sz"]),
            Decimal(row["px"]),
            Decimal(row["fee"]),
        )
    held = sum((f.signed_size for f in journal.fills if f.symbol == "ETH-USD"), Decimal(0))
    assert held == venue.position("ETH")
    for cloid, venue_order in on_venue.items():
        order = ours[cloid]
        assert order.filled_size == venue_order.filled, order.client_order_id
        assert order.is_open == (venue_order.status == "open"), (
            order.client_order_id,
            order.status,
            venue_order.status,
        )
    return journal


# ---- the scenarios ----------------------------------------------------------------------------


@pytest.mark.slow
def test_killed_after_the_intent_is_journaled_the_order_is_never_sent(
    tmp_path: Path, venue: LocalExchange, db_url: str
) -> None:
    first = start(tmp_path, venue, db_url, "fault_plugin", env={"FAULT_POINT": "after_intent"})
    assert ended(first) == FAULT_EXIT, first.output()
    [pending] = journal_view(db_url).unacknowledged
    assert pending.status is OrderStatus.NEW
    cloid = cloid_for(pending.client_order_id)
    assert venue.opening_orders() == [], "the first process sent nothing"

    second = start(tmp_path, venue, db_url)
    wait_until(second, lambda: protected(venue), "the restarted run's position is protected")
    stop(second)

    journal = assert_consistent(venue, db_url)
    after = journal.orders[pending.client_order_id]
    assert (after.status, after.reason) == (OrderStatus.REJECTED, NEVER_REACHED)
    assert cloid in looked_up(venue), "recovery asked the venue by cloid"
    assert cloid not in venue.account.submissions
    [entry] = venue.opening_orders()  # the restarted run traded again, with a new intent
    assert entry != cloid
    assert journal.by_cloid()[entry].status is OrderStatus.FILLED


@pytest.mark.slow
def test_killed_after_the_venue_accepted_the_order_is_adopted_not_resent(
    tmp_path: Path, venue: LocalExchange, db_url: str
) -> None:
    venue.arm("kill_after_accept")
    first = start(tmp_path, venue, db_url)
    assert ended(first) == KILLED, first.output()
    crashed = journal_view(db_url)
    [pending] = crashed.unacknowledged
    assert pending.status is OrderStatus.NEW  # only the intent: the answer was never read
    assert crashed.fills == []
    cloid = cloid_for(pending.client_order_id)
    assert venue.opening_orders() == [cloid]
    assert venue.account.by_cloid[cloid].status == "filled"
    assert venue.position() == SIZE

    second = start(tmp_path, venue, db_url)
    wait_until(second, lambda: protected(venue), "the adopted position is protected")
    stop(second)

    journal = assert_consistent(venue, db_url)
    adopted = journal.orders[pending.client_order_id]
    assert (adopted.status, adopted.filled_size) == (OrderStatus.FILLED, SIZE)
    assert cloid in looked_up(venue), "recovery found it by cloid"
    assert venue.opening_orders() == [cloid], "no second order for the position it already had"
    assert venue.account.submissions[cloid] == 1
    [fill] = [f for f in journal.fills if f.client_order_id == pending.client_order_id]
    assert fill.fill_id == str(venue.account.fills[0]["tid"])


@pytest.mark.slow
def test_killed_after_a_fill_on_the_venue_the_fill_is_recorded_once(
    tmp_path: Path, venue: LocalExchange, db_url: str
) -> None:
    first = start(tmp_path, venue, db_url)

    def acknowledged() -> bool:
        if not protected(venue):
            return False
        journal = journal_view(db_url).by_cloid()
        return all(
            o.cloid in journal and journal[o.cloid].status is OrderStatus.ACCEPTED
            for o in venue.open_orders(triggers=True)
        )

    wait_until(first, acknowledged, "the stop and target rest, journaled as accepted")
    fill = venue.fire_trigger_and_kill("sl")
    assert ended(first) == KILLED, first.output()
    crashed = journal_view(db_url)
    stop_order = crashed.by_cloid()[fill["cloid"]]
    assert stop_order.status is OrderStatus.ACCEPTED
    [entry_fill] = crashed.fills  # the stop's fill never reached the journal
    assert venue.position() == 0

    second = start(tmp_path, venue, db_url)
    wait_until(second, lambda: protected(venue, 2), "a new position after the stop, protected")
    stop(second)

    journal = assert_consistent(venue, db_url)
    assert [f.fill_id for f in journal.fills].count(str(fill["tid"])) == 1
    stopped = journal.orders[stop_order.client_order_id]
    assert (stopped.status, stopped.filled_size) == (OrderStatus.FILLED, SIZE)
    # recovery read the venue's fills from the last journaled one on
    since = int(entry_fill.timestamp.timestamp() * 1000)
    assert since in [body["startTime"] for body in venue.info_requests("userFillsByTime")]


@pytest.mark.slow
def test_an_order_answer_lost_to_a_timeout_is_looked_up_not_resent(
    tmp_path: Path, venue: LocalExchange, db_url: str
) -> None:
    venue.arm("slow_answer", delay=4.0)  # answered after the client's 2 s timeout
    timeouts = {
        "SPARKSTACKER_HYPERLIQUID_REQUEST_TIMEOUT": "2",
        "SPARKSTACKER_HYPERLIQUID_ORDER_EXPIRY_SECONDS": "2",
    }
    child = start(tmp_path, venue, db_url, env=timeouts)
    wait_until(child, lambda: protected(venue), "the position is protected")
    stop(child)

    journal = assert_consistent(venue, db_url)
    [cloid] = venue.opening_orders()
    assert venue.account.submissions[cloid] == 1
    entry = journal.by_cloid()[cloid]
    assert (entry.status, entry.filled_size) == (OrderStatus.FILLED, SIZE)
    # The adapter asked by cloid after the timeout, and sent no order in between.
    kinds = venue.request_kinds()
    sent = kinds.index(("order", None))
    looked = kinds.index(("orderStatus", cloid))
    assert sent < looked
    assert ("order", None) not in kinds[sent + 1 : looked]
    assert "order action failed ambiguously" in child.log.read_text()
    with Journal(db_url, durability="fast") as j:
        steps = [e.kind for e in j.order_events(entry.client_order_id)]
    assert steps.count(OrderEventKind.SUBMITTED) == 1
    assert steps.count(OrderEventKind.FILL) == 1


def test_the_local_endpoint_is_an_adapter_setting() -> None:
    """How the runs above reach the local venue: settings, with the websocket derived."""
    settings = load_settings("hyperliquid", {"api_url": "http://127.0.0.1:8080/"})
    assert (settings.base_url, settings.websocket_url) == (
        "http://127.0.0.1:8080",
        "ws://127.0.0.1:8080/ws",
    )
    assert not settings.is_mainnet
    with pytest.raises(ConfigError, match=r"SPARKSTACKER_HYPERLIQUID_API_URL: .*http://"):
        load_settings("hyperliquid", {"api_url": "127.0.0.1:8080"})
    with pytest.raises(ConfigError, match=r"SPARKSTACKER_HYPERLIQUID_WS_URL: .*ws://"):
        load_settings("hyperliquid", {"ws_url": "http://127.0.0.1:8080/ws"})
