"""docs/plugins.md stays true: every hook's signature appears in it."""

from __future__ import annotations

import inspect
from pathlib import Path

from sparkstacker import hookspecs
from sparkstacker.plugins import make_plugin_manager

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def test_every_hook_signature_is_documented() -> None:
    text = DOC.read_text()
    pm = make_plugin_manager(autoload=False, builtins=False)
    names = [name for name in dir(pm.hook) if not name.startswith("_")]
    assert len(names) >= 12
    for name in names:
        spec = getattr(hookspecs, name)
        params = ", ".join(inspect.signature(spec).parameters)
        signature = f"{name}({params})"
        assert signature in text, f"docs/plugins.md does not document {signature}"


def test_the_wrapper_example_in_the_doc_works() -> None:
    """The submit_order wrapper example is real code: run it."""
    from datetime import UTC, datetime
    from decimal import Decimal

    import pytest
    from sparkstacker.errors import OrderVetoed
    from sparkstacker.model import Order, OrderSubmission, Side

    block = DOC.read_text().split("class NoFridayTrading:", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(
        "from sparkstacker import hookimpl\nfrom sparkstacker.errors import OrderVetoed\n"
        "class NoFridayTrading:" + block,
        namespace,
    )
    plugin = namespace["NoFridayTrading"]()  # type: ignore[operator]
    pm = make_plugin_manager(autoload=False, builtins=False, plugins=[plugin])

    def order(day: int) -> Order:
        return Order(
            client_order_id="x",
            venue="sim",
            symbol="ETH-USD",
            side=Side.BUY,
            price=Decimal(1),
            size=Decimal(1),
            created_at=datetime(2025, 6, day, tzinfo=UTC),
        )

    approved = pm.hook.submit_order(submission=OrderSubmission(order=order(5)))  # a Thursday
    assert approved.annotations == {"checked_by": "friday-rule"}
    with pytest.raises(OrderVetoed, match="friday-rule: no new exposure on Fridays"):
        pm.hook.submit_order(submission=OrderSubmission(order=order(6)))  # a Friday
