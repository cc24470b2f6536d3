"""What a compiled rule strategy evaluates: the DAG plus its entry and exit rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from sparkstacker.lang.dag import Dag


@dataclass(frozen=True)
class ExplainTree:
    """A condition as written, split at and/or/not, with the DAG node of each part.

    ``kind`` is ``and``, ``or``, ``not``, ``compare``, ``crosses`` or ``value``; the operands of
    a comparison are ``value`` children so ``explain --at`` can show both sides.
    """

    text: str
    node: int | None
    kind: str
    children: tuple[ExplainTree, ...] = ()


@dataclass(frozen=True)
class EntryRule:
    side: str  # long | short
    condition: int
    text: str
    explain: ExplainTree
    confidence: int | None = None
    order: str = "market"
    limit_price: int | None = None
    post_only: bool = False
    line: int = 0


@dataclass(frozen=True)
class ExitRule:
    side: str | None  # None: whichever side is held
    condition: int
    text: str
    explain: ExplainTree
    line: int = 0


@dataclass
class Program:
    """The evaluable part of a rule strategy. ``named`` maps ``let`` names to nodes."""

    dag: Dag
    base: str
    entries: tuple[EntryRule, ...] = ()
    exits: tuple[ExitRule, ...] = ()
    named: dict[str, int] = field(default_factory=dict)
    higher: tuple[str, ...] = ()
    warmup: int = 0

    @property
    def roots(self) -> list[int]:
        """Nodes whose value a decision reads."""
        roots: list[int] = []
        for rule in self.entries:
            roots.append(rule.condition)
            roots.extend(n for n in (rule.confidence, rule.limit_price) if n is not None)
        roots.extend(rule.condition for rule in self.exits)
        return roots

    @property
    def state_free(self) -> bool:
        return not any(self.dag[n].stateful for n in self.roots)
