"""``Journal``: the write-ahead record of runs, orders, fills and risk, plus its reports."""

from __future__ import annotations

from pathlib import Path

from sparkstacker.errors import JournalError
from sparkstacker.journal.convert import fill_from_row
from sparkstacker.journal.core import describe
from sparkstacker.journal.export import EXPORTS, write_csv
from sparkstacker.journal.reads import JournalReads
from sparkstacker.journal.records import RoundTrip
from sparkstacker.journal.schema import FillRow, FundingPaymentRow
from sparkstacker.journal.trades import FundingEntry, round_trips
from sparkstacker.journal.writes import JournalWrites
from sparkstacker.model import Fill
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError


class Journal(JournalWrites, JournalReads):
    """Open (and migrate to the newest schema) the journal at ``url``.

    ``Journal("sqlite:///spark_stacker.db")`` or ``Journal("postgresql://user@host/db")``.
    ``durability="full"`` for paper and live runs, ``"fast"`` for backtests (see
    :mod:`sparkstacker.journal.database` for exactly what each guarantees).
    """

    def trades(self, run_id: str | None = None) -> list[RoundTrip]:
        """Round trips rebuilt from fills: per run for backtests, across restarts otherwise."""
        fills_query = select(FillRow).order_by(FillRow.timestamp, FillRow.id)
        funding_query = select(FundingPaymentRow)
        if run_id is not None:
            fills_query = fills_query.where(FillRow.run_id == run_id)
            funding_query = funding_query.where(FundingPaymentRow.run_id == run_id)
        by_scope: dict[str, list[Fill]] = {}
        funding: dict[str, list[FundingEntry]] = {}
        with self._read("rebuild trades") as session:
            for row in session.scalars(fills_query):
                by_scope.setdefault(row.scope, []).append(fill_from_row(row))
            for payment in session.scalars(funding_query):
                funding.setdefault(payment.scope, []).append(
                    FundingEntry(
                        venue=payment.venue,
                        account=payment.account,
                        symbol=payment.symbol,
                        timestamp=payment.timestamp,
                        payment=payment.payment,
                    )
                )
        trips: list[RoundTrip] = []
        for scope, fills in by_scope.items():
            owner = (
                run_id if run_id is not None else (None if scope in ("paper", "live") else scope)
            )
            trips.extend(round_trips(fills, funding.get(scope, ()), run_id=owner))
        return sorted(trips, key=lambda t: (t.opened_at, t.venue, t.symbol))

    def export_csv(self, table: str, path: Path, run_id: str | None = None) -> int:
        """Write one table (``funding`` means funding_payments) as CSV; returns rows written."""
        try:
            with self._engine.connect() as connection:
                return write_csv(connection, table, Path(path), run_id)
        except SQLAlchemyError as exc:
            raise JournalError(f"could not export {table}: {describe(exc)}") from exc
        except OSError as exc:
            raise JournalError(f"could not write {path}: {exc}") from exc

    def export_all(self, directory: Path, run_id: str | None = None) -> dict[str, int]:
        """One CSV per table in ``directory`` (``orders.csv``, ``fills.csv``, …)."""
        return {
            name: self.export_csv(name, Path(directory) / f"{name}.csv", run_id) for name in EXPORTS
        }
