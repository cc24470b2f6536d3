"""The durable paper venue: a simulated account that survives a restart.

A paper run trades against :class:`SimExchange`, which lives in the process's memory. To give
recovery a venue to reconcile against after a crash, every *input* the simulated venue receives
(markets added, leverage set, orders submitted and cancelled, each bar's open and close) is
appended to a venue log **before** it is applied — the venue's own write-ahead log — and the
state is rebuilt on start-up by replaying the log through a fresh simulator (it is
deterministic: same inputs, same state, same fills).

Commit points, where the log line is fsynced before the venue answers:

* ``submit`` / ``cancel`` / ``set_leverage``: the venue "accepted" the request once its line is
  on disk, so a crash right after still finds the order on the venue;
* a bar that produced events (fills, funding, liquidations): fsynced before the events are handed
  to the engine, so a fill the engine never journaled is still on the venue for recovery to find.

Quiet bars are flushed (they survive a process kill) but not fsynced. A line torn by a crash at
the end of the log was never applied and is dropped. Fill ids carry the paper account's id, so a
reset account never reuses an id the journal already holds.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sparkstacker.errors import ExchangeError, JournalError
from sparkstacker.exchange import (
    Capabilities,
    EventHandler,
    LeverageSetting,
    OrderReport,
    VenueEvent,
)
from sparkstacker.model import (
    AccountState,
    Fill,
    Instrument,
    MarginMode,
    Order,
    OrderBook,
    utcnow,
)

if TYPE_CHECKING:
    from sparkstacker.registry import Registry

log = logging.getLogger("sparkstacker.runtime.paper")

LOG_VERSION = 1


@dataclass(frozen=True)
class PaperHeader:
    """First line of a venue log: which account this is and how it was created."""

    venue: str
    account_id: str
    options: dict[str, Any]
    created_at: str


class VenueLog:
    """An append-only JSON-lines file; ``commit`` fsyncs what was appended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self.lines = 0
        self.commits = 0

    def append(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        self._file.flush()
        self.lines += 1

    def commit(self) -> None:
        os.fsync(self._file.fileno())
        self.commits += 1

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def read_venue_log(path: Path) -> tuple[PaperHeader, list[dict[str, Any]]]:
    """The header and the input records of a venue log; a torn last line is cut off the file."""
    with open(path, "rb") as handle:
        data = handle.read()
    *complete, tail = data.split(b"\n")
    records: list[dict[str, Any]] = []
    for number, raw in enumerate(complete, start=1):
        if not raw.strip():
            continue
        try:
            records.append(json.loads(raw))
        except ValueError:
            raise JournalError(
                f"paper venue log {path} is damaged at line {number}; move it away to start a "
                "new paper account (spark-stacker run --reset-paper)"
            ) from None
    # A last line without its newline was torn by a crash mid-write: never applied, drop it.
    good_end = len(data) - len(tail)
    if good_end < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(good_end)
            handle.flush()
            os.fsync(handle.fileno())
        log.warning("paper venue log %s: dropped a torn last line (never applied)", path)
    if not records or records[0].get("k") != "header":
        raise JournalError(f"paper venue log {path} has no header line")
    head = records[0]
    if head.get("version") != LOG_VERSION:
        raise JournalError(
            f"paper venue log {path} has version {head.get('version')}, this spark-stacker "
            f"reads version {LOG_VERSION}"
        )
    header = PaperHeader(
        venue=head["venue"],
        account_id=head["account_id"],
        options=head["options"],
        created_at=head["created_at"],
    )
    return header, records[1:]


class PaperVenue:
    """A :class:`SimExchange` behind the Exchange protocol, with its inputs logged ahead.

    Build it with :meth:`open`. The runtime feeds bars through :meth:`on_bar_open` and
    :meth:`on_bar_close`; the engine uses the Exchange protocol. ``submissions`` counts
    ``submit`` calls per client order id (what the crash tests check for duplicates).
    """

    def __init__(self, sim: Any, venue_log: VenueLog, header: PaperHeader) -> None:
        self.sim = sim
        self.log = venue_log
        self.header = header
        self.name: str = sim.name
        self.venue = "sim"
        self.capabilities: Capabilities = sim.capabilities
        self.account_id = header.account_id
        self._prefix = header.account_id[:8] + "-"
        self.markets: dict[str, str | None] = {}  # symbol -> timeframe
        self.submissions: dict[str, int] = {}
        self.restored_records = 0

    # ---- opening --------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path,
        name: str,
        options: Any,
        *,
        registry: Registry | None = None,
        reset: bool = False,
    ) -> PaperVenue:
        """Restore the paper account logged at ``path``, or create it with ``options``."""
        from sparkstacker_plugins.exchanges.sim.exchange import SimExchange
        from sparkstacker_plugins.exchanges.sim.options import SimOptions

        if reset and path.exists():
            backup = path.with_name(f"{path.name}.{utcnow().strftime('%Y%m%dT%H%M%S')}.bak")
            path.rename(backup)
            log.info("paper account %s reset; the old log is kept as %s", name, backup)
        if path.exists():
            header, records = read_venue_log(path)
            if header.venue != name:
                raise JournalError(f"paper venue log {path} belongs to {header.venue}, not {name}")
            saved = SimOptions.model_validate(header.options)
            wanted = options.model_dump(mode="json")
            kept = saved.model_dump(mode="json")
            differ = sorted(k for k in wanted if wanted[k] != kept.get(k))
            if differ:
                log.warning(
                    "paper account %s keeps the settings it was created with (%s differ); use "
                    "--reset-paper to start a new account with new ones",
                    name,
                    ", ".join(differ),
                )
            sim = SimExchange(name, saved, registry=registry)
            venue = cls(sim, VenueLog(path), header)
            venue._replay(records)
            return venue
        header = PaperHeader(
            venue=name,
            account_id=uuid.uuid4().hex,
            options=options.model_dump(mode="json"),
            created_at=utcnow().isoformat(),
        )
        venue_log = VenueLog(path)
        venue_log.append(
            {
                "k": "header",
                "version": LOG_VERSION,
                "venue": name,
                "account_id": header.account_id,
                "options": header.options,
                "created_at": header.created_at,
            }
        )
        venue_log.commit()
        return cls(SimExchange(name, options, registry=registry), venue_log, header)

    def _replay(self, records: list[dict[str, Any]]) -> None:
        """Apply logged inputs in order; the simulator is deterministic, so state is rebuilt."""
        sim = self.sim
        for record in records:
            kind = record["k"]
            try:
                if kind == "market":
                    instrument = Instrument.model_validate(record["instrument"])
                    sim.add_market(instrument, timeframe=record.get("tf"))
                    self.markets[instrument.symbol] = record.get("tf")
                elif kind == "o":
                    sim.on_bar_open(record["s"], record["t"], *record["b"], record.get("f"))
                elif kind == "c":
                    sim.on_bar_close(record["s"])
                elif kind == "submit":
                    order = Order.model_validate(record["order"])
                    self.submissions[order.client_order_id] = (
                        self.submissions.get(order.client_order_id, 0) + 1
                    )
                    sim.submit_order(order)
                elif kind == "cancel":
                    sim.cancel_order(record["cid"], record["s"])
                elif kind == "lev":
                    sim.apply_leverage(record["s"], Decimal(record["x"]), MarginMode(record["m"]))
                elif kind == "funding":
                    sim.on_funding(record["s"], record["t"], Decimal(record["r"]))
                else:
                    raise JournalError(f"paper venue log {self.log.path}: unknown record {kind!r}")
            except ExchangeError:
                continue  # the venue refused it the first time too; same answer, no state change
        self.restored_records = len(records)

    # ---- the runtime's data API -----------------------------------------------------------------

    def add_market(self, instrument: Instrument, *, timeframe: str | None = None) -> None:
        """Make a market tradable (a no-op when the restored account already has it)."""
        if instrument.symbol in self.markets:
            return
        self.log.append(
            {"k": "market", "instrument": instrument.model_dump(mode="json"), "tf": timeframe}
        )
        self.log.commit()
        self.sim.add_market(instrument, timeframe=timeframe)
        self.markets[instrument.symbol] = timeframe

    def has_market(self, symbol: str) -> bool:
        return symbol in self.markets

    def market_time(self, symbol: str) -> tuple[int | None, bool]:
        """Open time of the last bar fed to ``symbol`` (None: none yet) and whether it is still
        open (a crash between its open and its close)."""
        state = self.sim._markets.get(symbol)
        if state is None or state.ts < 0:
            return None, False
        return int(state.ts), bool(state.at_open)

    def on_bar_open(
        self,
        symbol: str,
        ts_ms: int,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: float,
        funding_rate: float | None = None,
    ) -> list[VenueEvent]:
        self.log.append(
            {
                "k": "o",
                "s": symbol,
                "t": ts_ms,
                "b": [open_, high, low, close, volume],
                "f": funding_rate,
            }
        )
        events = self.sim.on_bar_open(symbol, ts_ms, open_, high, low, close, volume, funding_rate)
        if events:
            self.log.commit()
            return self._rename_events(events)
        return events

    def on_bar_close(self, symbol: str) -> list[VenueEvent]:
        self.log.append({"k": "c", "s": symbol})
        events = self.sim.on_bar_close(symbol)
        if events:
            self.log.commit()
            return self._rename_events(events)
        return events

    # ---- the Exchange protocol ------------------------------------------------------------------

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        await self.sim.close()
        self.log.close()

    async def instruments(self) -> list[Instrument]:
        return await self.sim.instruments()

    async def account(self) -> AccountState:
        return self.sim.account_state()

    def account_state(self) -> AccountState:
        return self.sim.account_state()

    async def set_leverage(
        self, symbol: str, leverage: Decimal, margin_mode: MarginMode
    ) -> LeverageSetting:
        current = self.sim._core.settings.get(symbol)
        if (
            current is not None
            and current.leverage == leverage
            and current.margin_mode == margin_mode
        ):
            return current
        self.log.append({"k": "lev", "s": symbol, "x": str(leverage), "m": margin_mode.value})
        self.log.commit()
        return self.sim.apply_leverage(symbol, leverage, margin_mode)

    async def leverage(self, symbol: str) -> LeverageSetting:
        return await self.sim.leverage(symbol)

    async def submit(self, order: Order) -> OrderReport:
        self.log.append({"k": "submit", "order": order.model_dump(mode="json")})
        self.log.commit()
        self.submissions[order.client_order_id] = self.submissions.get(order.client_order_id, 0) + 1
        return self._rename_report(self.sim.submit_order(order))

    async def cancel(self, order: Order) -> OrderReport:
        self.log.append({"k": "cancel", "cid": order.client_order_id, "s": order.symbol})
        self.log.commit()
        return self._rename_report(self.sim.cancel_order(order.client_order_id, order.symbol))

    async def order_status(self, client_order_id: str, symbol: str) -> OrderReport | None:
        report = await self.sim.order_status(client_order_id, symbol)
        return None if report is None else self._rename_report(report)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return await self.sim.open_orders(symbol)

    async def fills(self, since: datetime | None = None) -> list[Fill]:
        return [self._rename_fill(f) for f in await self.sim.fills(since)]

    async def order_book(self, symbol: str) -> OrderBook:
        return await self.sim.order_book(symbol)

    def on_event(self, handler: EventHandler) -> None:
        self.sim.on_event(handler)

    # ---- fill ids unique per paper account --------------------------------------------------

    def _rename_fill(self, fill: Fill) -> Fill:
        if fill.fill_id.startswith(self._prefix):
            return fill
        return fill.model_copy(update={"fill_id": self._prefix + fill.fill_id})

    def _rename_report(self, report: OrderReport) -> OrderReport:
        if not report.fills:
            return report
        return report.model_copy(
            update={"fills": tuple(self._rename_fill(f) for f in report.fills)}
        )

    def _rename_events(self, events: list[VenueEvent]) -> list[VenueEvent]:
        out = []
        for event in events:
            if event.report is not None and event.report.fills:
                event = event.model_copy(update={"report": self._rename_report(event.report)})
            fill = event.data.get("fill") if event.data else None
            if isinstance(fill, Fill):
                event = event.model_copy(
                    update={"data": {**event.data, "fill": self._rename_fill(fill)}}
                )
            out.append(event)
        return out


def iter_submissions(path: Path) -> Iterator[str]:
    """Client order ids of every ``submit`` the venue received, in order (for audits/tests)."""
    _, records = read_venue_log(path)
    for record in records:
        if record["k"] == "submit":
            yield str(record["order"]["client_order_id"])
