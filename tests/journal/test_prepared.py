"""The intent's prepared INSERTs store exactly what SQLAlchemy's own INSERTs store."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from sparkstacker.errors import JournalError
from sparkstacker.journal import Journal
from sparkstacker.journal.convert import order_columns
from sparkstacker.journal.prepared import Encoded, PreparedInsert
from sparkstacker.journal.schema import TABLES
from sparkstacker.model import Order

from tests.journal.test_roundtrip_properties import SETTINGS, orders

ORDERS = TABLES["orders"]
JSON_COLUMNS = {c.name for c in ORDERS.columns if isinstance(c.type, sa.JSON)}


def _raw_row(journal: Journal, cloid: str) -> dict[str, Any]:
    """The orders row as the driver returns it (no SQLAlchemy type processing)."""
    with journal.engine.connect() as conn:
        result = conn.exec_driver_sql(
            "SELECT * FROM orders WHERE client_order_id = "
            + ("?" if journal.dialect == "sqlite" else "%(c)s"),
            (cloid,) if journal.dialect == "sqlite" else {"c": cloid},
        )
        row = dict(result.mappings().one())
    del row["id"]
    for name in JSON_COLUMNS:  # same JSON document; the text may differ in spacing
        if isinstance(row[name], str):
            row[name] = json.loads(row[name])
    return row


def _values(run_id: str, order: Order) -> dict[str, Any]:
    return {"run_id": run_id, "scope": "paper", "version": 1, **order_columns(order)}


@SETTINGS
@given(order=orders())
def test_prepared_insert_stores_what_sqlalchemy_stores(journal: Journal, order: Order) -> None:
    run_id = journal.start_run("paper", [], {})
    prepared = PreparedInsert(ORDERS, journal.engine.dialect, returning="id")
    with journal.engine.begin() as conn:
        conn.execute(sa.insert(ORDERS), _values(run_id, order))
    expected = _raw_row(journal, order.client_order_id)
    with journal.engine.begin() as conn:
        conn.execute(sa.delete(ORDERS).where(ORDERS.c.client_order_id == order.client_order_id))
    with journal._raw_write("insert") as cursor:
        cursor.execute(prepared.sql, prepared.params(_values(run_id, order)))
        assert isinstance(cursor.fetchone()[0], int)
    assert _raw_row(journal, order.client_order_id) == expected


def test_a_missing_column_is_named(journal: Journal, make_order: Any) -> None:
    prepared = PreparedInsert(ORDERS, journal.engine.dialect)
    values = _values("r", make_order())
    del values["fees"], values["scope"]
    with pytest.raises(KeyError, match="insert into orders lacks scope, fees"):
        prepared.params(values)


def test_a_non_finite_amount_is_refused_and_nothing_is_written(
    journal: Journal, make_order: Any
) -> None:
    run_id = journal.start_run("paper", [], {})
    prepared = PreparedInsert(ORDERS, journal.engine.dialect)
    values = _values(run_id, make_order("nan"))
    values["fees"] = Decimal("NaN")
    good = _values(run_id, make_order("fine"))

    def write_both() -> None:
        with journal._raw_write("journal it") as cursor:
            cursor.execute(prepared.sql, prepared.params(good))
            cursor.execute(prepared.sql, prepared.params(values))

    with pytest.raises(JournalError, match="could not journal it: cannot journal the non-finite"):
        write_both()
    assert journal.orders(run_id) == []  # the first row went with the transaction


def test_a_driver_error_rolls_back_and_names_the_step(journal: Journal, make_order: Any) -> None:
    run_id = journal.start_run("paper", [], {})
    prepared = PreparedInsert(ORDERS, journal.engine.dialect)
    row = prepared.params(_values(run_id, make_order("twice")))

    def write_twice() -> None:
        with journal._raw_write("store twice") as cursor:
            cursor.execute(prepared.sql, row)
            cursor.execute(prepared.sql, row)  # (scope, client order id) is unique

    with pytest.raises(JournalError, match="could not store twice") as caught:
        write_twice()
    assert isinstance(caught.value.__cause__, journal._integrity_errors())
    assert journal.orders(run_id) == []
    journal.record_intent(run_id, make_order("after"), strategy="s")  # the journal still works
    assert [o.client_order_id for o in journal.orders(run_id)] == ["after"]


def test_an_encoded_json_value_is_stored_as_given(journal: Journal, make_order: Any) -> None:
    run_id = journal.start_run("paper", [], {})
    prepared = PreparedInsert(ORDERS, journal.engine.dialect)
    values = _values(run_id, make_order("enc"))
    values["annotations"] = Encoded('{"why":"pre-encoded"}')
    with journal._raw_write("insert") as cursor:
        cursor.execute(prepared.sql, prepared.params(values))
    stored = journal.order("enc")
    assert stored is not None
    assert stored.annotations == {"why": "pre-encoded"}


def test_an_unknown_paramstyle_is_refused() -> None:
    dialect = sa.create_engine("sqlite://").dialect
    dialect.paramstyle = "numeric_dollar"
    with pytest.raises(ValueError, match="paramstyle 'numeric_dollar' is not supported"):
        PreparedInsert(ORDERS, dialect)
