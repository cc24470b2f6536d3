"""docs/observability.md documents every metric, every orders.log field and every log file."""

from __future__ import annotations

import re
from pathlib import Path

from sparkstacker.model import OrderEventKind
from sparkstacker.observe.logs import BALANCE_LOG, MAIN_LOG, MARKETS_LOG, ORDERS_LOG
from sparkstacker.observe.metrics import CATALOGUE
from sparkstacker.observe.records import ORDER_FIELDS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "observability.md").read_text()


def test_every_metric_is_in_the_catalogue_table_with_its_labels():
    for spec in CATALOGUE:
        row = re.search(rf"^\| `{spec.name}` \| (\w+) \| ([^|]*) \|", DOC, re.MULTILINE)
        assert row, f"{spec.name} is missing from the metric table"
        assert row.group(1) == spec.kind
        documented = {label.strip() for label in row.group(2).split(",") if label.strip()}
        assert documented == set(spec.labels), f"labels of {spec.name} differ from the code"


def test_every_orders_log_field_and_kind_is_documented():
    for field in ORDER_FIELDS:
        assert f"`{field}`" in DOC, f"orders.log field {field} is undocumented"
    for kind in OrderEventKind:
        assert f"`{kind.value}`" in DOC, f"order event kind {kind.value} is undocumented"


def test_every_log_file_is_documented():
    for name in (MAIN_LOG, ORDERS_LOG, BALANCE_LOG, MARKETS_LOG):
        assert f"`{name}`" in DOC
