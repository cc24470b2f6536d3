"""``Journal.batch``: one commit for many writes, each write still all-or-nothing, intents alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sparkstacker.errors import JournalError
from sparkstacker.journal import Journal
from sparkstacker.model import Fill, Order, OrderEvent, OrderEventKind, OrderStatus


@pytest.fixture
def other(journal_url: str) -> Iterator[Journal]:
    """A second journal on the same database: it sees only what is committed."""
    j = Journal(journal_url, durability="fast")
    yield j
    j.close()


def _sent(order: Order) -> OrderEvent:
    sent = order.transition(OrderStatus.SUBMITTED)
    return OrderEvent(kind=OrderEventKind.SUBMITTED, order=sent, timestamp=order.created_at)


def test_batched_writes_are_committed_together_at_the_end(
    journal: Journal,
    other: Journal,
    run_id: str,
    make_order: Callable[..., Order],
    make_fill: Callable[..., Fill],
) -> None:
    order = make_order("b1")
    journal.record_intent(run_id, order, strategy="s")
    with journal.batch():
        journal.record_order_event(run_id, _sent(order))
        journal.record_fill(run_id, make_fill("f1", client_order_id="b1"))
        assert other.fills(run_id=run_id) == []  # not committed yet
        assert len(other.order_events("b1")) == 1
    assert [f.fill_id for f in other.fills(run_id=run_id)] == ["f1"]
    assert [e.kind for e in other.order_events("b1")] == [
        OrderEventKind.INTENT,
        OrderEventKind.SUBMITTED,
    ]


def test_a_failing_write_rolls_back_alone_and_the_batch_goes_on(
    journal: Journal, run_id: str, make_order: Callable[..., Order], make_fill: Callable[..., Fill]
) -> None:
    order = make_order("b2")
    journal.record_intent(run_id, order, strategy="s")
    with journal.batch():
        journal.record_fill(run_id, make_fill("f1", client_order_id="b2"))
        with pytest.raises(JournalError, match="has no journaled intent"):
            journal.record_order_event(run_id, _sent(make_order("never-journaled")))
        journal.record_order_event(run_id, _sent(order))
    assert [f.fill_id for f in journal.fills(run_id=run_id)] == ["f1"]
    assert journal.order("b2") is not None
    assert journal.order("b2").status is OrderStatus.SUBMITTED  # type: ignore[union-attr]
    assert journal.order("never-journaled") is None


def test_an_intent_inside_a_batch_is_committed_before_it_returns(
    journal: Journal,
    other: Journal,
    run_id: str,
    make_order: Callable[..., Order],
    make_fill: Callable[..., Fill],
) -> None:
    with journal.batch():
        journal.record_fill(run_id, make_fill("f0", client_order_id=None))
        journal.record_intent(run_id, make_order("b3"), strategy="s")
        # The write-ahead rule: the intent (and what the batch held before it) is durable now.
        assert other.order("b3") is not None
        assert [f.fill_id for f in other.fills(run_id=run_id)] == ["f0"]
        journal.record_fill(run_id, make_fill("f1", client_order_id="b3"))
    assert [f.fill_id for f in other.fills(run_id=run_id)] == ["f0", "f1"]


def test_what_succeeded_is_kept_when_the_block_raises(
    journal: Journal, run_id: str, make_fill: Callable[..., Fill]
) -> None:
    def crash_after_one_write() -> None:
        with journal.batch():
            journal.record_fill(run_id, make_fill("kept", client_order_id=None))
            raise RuntimeError("a hook failed")

    with pytest.raises(RuntimeError, match="a hook failed"):
        crash_after_one_write()
    assert [f.fill_id for f in journal.fills(run_id=run_id)] == ["kept"]


def test_an_inner_batch_joins_the_outer_one(
    journal: Journal, other: Journal, run_id: str, make_fill: Callable[..., Fill]
) -> None:
    with journal.batch():
        with journal.batch():
            journal.record_fill(run_id, make_fill("inner", client_order_id=None))
        assert other.fills(run_id=run_id) == []  # the inner block did not commit
    assert [f.fill_id for f in other.fills(run_id=run_id)] == ["inner"]


def test_the_journal_works_normally_after_a_batch(
    journal: Journal, run_id: str, make_order: Callable[..., Order]
) -> None:
    with journal.batch():
        pass
    journal.record_intent(run_id, make_order("after"), strategy="s")
    assert journal.order("after") is not None
