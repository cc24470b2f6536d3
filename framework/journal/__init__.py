"""The journal: a write-ahead record so a run never loses track of an order.

``Journal(url)`` opens SQLite (WAL) or PostgreSQL and migrates it with Alembic; the engine
journals every order intent before sending it and every venue answer after. See docs/journal.md.
"""

from sparkstacker.journal.database import Durability
from sparkstacker.journal.journal import Journal
from sparkstacker.journal.records import (
    GroupEventRecord,
    RiskEventRecord,
    RoundTrip,
    RuleFileRecord,
    RunRecord,
)

__all__ = [
    "Durability",
    "GroupEventRecord",
    "Journal",
    "RiskEventRecord",
    "RoundTrip",
    "RuleFileRecord",
    "RunRecord",
]
