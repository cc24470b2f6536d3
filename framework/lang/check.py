"""The semantic pass: resolve every name against the registry, check units and structure.

It walks the AST of a loaded file (plus imports) and produces :class:`CheckedStrategy`
records — resolved plugins, clause values and the lowered :class:`Program` — reporting every
problem it finds to the shared :class:`Diagnostics` (all of them, not just the first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sparkstacker.lang import ast
from sparkstacker.lang.clauses import Values, read_costs, read_hedge, read_portfolio, read_risk
from sparkstacker.lang.dag import CONST, Dag
from sparkstacker.lang.diagnostics import Diagnostics
from sparkstacker.lang.format import expr_text
from sparkstacker.lang.loader import Loaded
from sparkstacker.lang.lower import RESERVED, LetDef, Lowerer
from sparkstacker.lang.params import ParamBinder, Written, written_of
from sparkstacker.lang.plan import (
    ExecutionCosts,
    HedgeSpec,
    PortfolioPlan,
    RiskSpec,
    SizingSpec,
    SourceRef,
)
from sparkstacker.lang.program import EntryRule, ExitRule, Program
from sparkstacker.lang.units import Unit
from sparkstacker.model.timeframe import timeframe_seconds
from sparkstacker.registry import Registry

SETTINGS = (ast.Fees, ast.Slippage, ast.Fill, ast.InitialEquity)
SINGLE = {
    ast.Market: "market",
    ast.TimeframeStmt: "timeframe",
    ast.Size: "size",
    ast.Leverage: "leverage",
    ast.Hedge: "hedge",
    ast.Params: "params",
}


@dataclass(frozen=True)
class PluginUse:
    """One plugin a strategy resolved, for ``explain``."""

    kind: str
    name: str
    plugin: str
    distribution: str
    version: str


@dataclass
class CheckedStrategy:
    name: str
    venue: str
    symbol: str
    timeframe: str
    leverage: Decimal
    sizing: SizingSpec | None
    hedge: HedgeSpec | None
    risk: RiskSpec
    costs: ExecutionCosts
    uses: str | None
    params: BaseModel | None
    program: Program
    source: SourceRef
    plugins: list[PluginUse] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)


@dataclass
class CheckedRules:
    strategies: list[CheckedStrategy]
    portfolio: PortfolioPlan | None


class Checker:
    def __init__(self, registry: Registry, diag: Diagnostics) -> None:
        self.registry = registry
        self.diag = diag

    def check(self, loaded: Loaded) -> CheckedRules:
        root = loaded.root
        if root is None:
            return CheckedRules([], None)
        file_lets = self._file_lets(loaded)
        portfolio = self._portfolio(loaded)
        settings = [i for i in root.tree.items if isinstance(i, SETTINGS)]
        defaults = read_costs(settings, self.diag, self.registry)
        for imported in loaded.imports:
            if imported.tree.strategies and imported.via is not None:
                names = ", ".join(s.name for s in imported.tree.strategies)
                self.diag.warning(
                    f"{imported.name} defines strategies ({names}); an import brings in only "
                    "its let bindings and portfolio, so they are not run from here",
                    imported.via.span,
                )
        strategies: list[CheckedStrategy] = []
        seen: dict[str, ast.Strategy] = {}
        used: set[str] = set()
        for strategy in root.tree.strategies:
            if strategy.name in seen:
                self.diag.error(
                    f'strategy "{strategy.name}" is defined twice (first at line '
                    f"{seen[strategy.name].span.line})",
                    strategy.name_span,
                )
                continue
            seen[strategy.name] = strategy
            checked = self._strategy(strategy, file_lets, defaults, used)
            if checked is not None:
                strategies.append(checked)
        self._file_lets_usage(root.tree, file_lets, used)
        return CheckedRules(strategies, portfolio)

    # ---- file level ---------------------------------------------------------------------
    def _file_lets(self, loaded: Loaded) -> dict[str, LetDef]:
        lets: dict[str, LetDef] = {}
        files = [*loaded.imports, *([loaded.root] if loaded.root else [])]
        for loaded_file in files:
            scope = "file" if loaded_file is loaded.root else "import"
            local: dict[str, ast.Let] = {}
            for item in loaded_file.tree.items:
                if not isinstance(item, ast.Let):
                    continue
                if not self._let_name_ok(item):
                    continue
                if item.name in local:
                    self.diag.error(
                        f"let {item.name} is defined twice (first at line "
                        f"{local[item.name].span.line})",
                        item.name_span,
                    )
                    continue
                local[item.name] = item
                lets[item.name] = LetDef(item, scope)
        return lets

    def _let_name_ok(self, let: ast.Let) -> bool:
        if let.name in RESERVED:
            self.diag.error(
                f"{let.name} is a built-in name (a bar field, state or function); "
                "choose another name",
                let.name_span,
            )
            return False
        return True

    def _file_lets_usage(self, tree: ast.RuleFile, lets: dict[str, LetDef], used: set[str]) -> None:
        file_lets = {n: d for n, d in lets.items() if d.scope == "file"}
        if not file_lets:
            return
        if not tree.strategies:
            # a library of definitions: check them on their own
            lowerer = Lowerer(Dag("1m"), "1m", self.registry, self.diag, lets)
            for name in file_lets:
                lowerer.expr(ast.Name(name, span=file_lets[name].let.name_span))
            return
        for name, definition in file_lets.items():
            if name not in used:
                self.diag.warning(
                    f"let {name} is never used",
                    definition.let.name_span,
                    hint="remove it, or use it in a rule",
                )

    def _portfolio(self, loaded: Loaded) -> PortfolioPlan | None:
        found: list[ast.Portfolio] = []
        files = [*loaded.imports, *([loaded.root] if loaded.root else [])]
        for loaded_file in files:
            found.extend(i for i in loaded_file.tree.items if isinstance(i, ast.Portfolio))
        if not found:
            return None
        for extra in found[1:]:
            first = found[0].span
            self.diag.error(
                f"a second portfolio block (the first is in {first.file} at line {first.line}); "
                "an account has one governor",
                extra.span,
            )
        return read_portfolio(found[0], self.diag)

    # ---- strategies ---------------------------------------------------------------------
    def _strategy(
        self,
        strategy: ast.Strategy,
        file_lets: dict[str, LetDef],
        defaults: ExecutionCosts,
        used_file_lets: set[str],
    ) -> CheckedStrategy | None:
        diag, registry = self.diag, self.registry
        errors_before = len(diag.errors)
        single: dict[str, Any] = {}
        lets: dict[str, LetDef] = dict(file_lets)
        local_lets: dict[str, ast.Let] = {}
        entries: list[ast.Enter] = []
        exits: list[ast.Exit] = []
        risks: list[ast.Risk] = []
        settings: list[Any] = []
        for stmt in strategy.body:
            kind = SINGLE.get(type(stmt))
            if kind is not None:
                if kind in single:
                    diag.error(
                        f"{kind} is given twice in this strategy (first at line "
                        f"{single[kind].span.line})",
                        stmt.span,
                    )
                    continue
                single[kind] = stmt
            elif isinstance(stmt, ast.Let):
                if not self._let_name_ok(stmt):
                    continue
                if stmt.name in local_lets:
                    diag.error(
                        f"let {stmt.name} is defined twice (first at line "
                        f"{local_lets[stmt.name].span.line})",
                        stmt.name_span,
                    )
                    continue
                local_lets[stmt.name] = stmt
                lets[stmt.name] = LetDef(stmt, "strategy")
            elif isinstance(stmt, ast.Enter):
                entries.append(stmt)
            elif isinstance(stmt, ast.Exit):
                exits.append(stmt)
            elif isinstance(stmt, ast.Risk):
                risks.append(stmt)
            elif isinstance(stmt, SETTINGS):
                settings.append(stmt)
        plugins: list[PluginUse] = []
        values = Values(diag)
        # market and venue
        market: ast.Market | None = single.get("market")
        venue, symbol = "", ""
        if market is None:
            diag.error(
                f'strategy "{strategy.name}" has no market line',
                strategy.name_span,
                hint="add a line like: market ETH-USD on hyperliquid",
            )
        else:
            venue, symbol = market.venue, market.symbol
            if venue not in registry.exchanges:
                diag.error(
                    registry.exchanges.unknown_message(venue),
                    market.venue_span,
                    hint="a market line reads: market ETH-USD on hyperliquid",
                )
            else:
                plugins.append(self._use("exchange", venue, registry.exchanges))
        # timeframe
        timeframe_stmt: ast.TimeframeStmt | None = single.get("timeframe")
        timeframe = "1m"
        if timeframe_stmt is not None:
            timeframe = values.timeframe(timeframe_stmt.value) or "1m"
        elif strategy.uses is None:
            diag.error(
                f'strategy "{strategy.name}" has no timeframe line',
                strategy.name_span,
                hint="add a line like: timeframe 1h (bars of 1m, 5m, 15m, 1h, 4h or 1d)",
            )
        # leverage and risk
        risk = read_risk(risks, diag)
        leverage = Decimal(1)
        leverage_stmt: ast.Leverage | None = single.get("leverage")
        if leverage_stmt is not None:
            leverage = values.leverage("leverage", leverage_stmt.value) or leverage
            if risk.max_leverage is not None and leverage > risk.max_leverage:
                diag.error(
                    f"leverage {leverage}x is above this strategy's max_leverage "
                    f"{risk.max_leverage}x",
                    leverage_stmt.value.span,
                )
        # size
        sizing = None
        size_stmt: ast.Size | None = single.get("size")
        if size_stmt is not None:
            if strategy.uses is not None:
                diag.error(
                    f"a strategy that uses {strategy.uses} sizes its orders through its "
                    "params; remove the size line",
                    size_stmt.span,
                )
            else:
                sizing = self._sizing(size_stmt, plugins)
        # hedge
        hedge = None
        hedge_stmt: ast.Hedge | None = single.get("hedge")
        if hedge_stmt is not None:
            hedge = read_hedge(
                hedge_stmt,
                diag,
                registry,
                main_leverage=leverage,
                main_venue=venue,
                main_symbol=symbol,
            )
            if hedge is not None and hedge.venue != venue and hedge.venue in registry.exchanges:
                plugins.append(self._use("exchange", hedge.venue, registry.exchanges))
        costs = read_costs(settings, diag, registry, defaults)
        if costs.slippage_model and costs.slippage_model in registry.slippage_models:
            plugins.append(self._use("slippage", costs.slippage_model, registry.slippage_models))
        # the rules themselves
        dag = Dag(timeframe)
        lowerer = Lowerer(dag, timeframe, registry, diag, lets)
        params_model: BaseModel | None = None
        if strategy.uses is not None:
            params_model = self._uses(
                strategy, single.get("params"), entries, exits, local_lets, plugins
            )
        else:
            params_stmt = single.get("params")
            if params_stmt is not None:
                diag.error(
                    'params configure a plugin strategy (strategy "x" uses '
                    "market_maker { … }); this strategy runs its own rules",
                    params_stmt.span,
                )
            if not entries:
                diag.error(
                    f'strategy "{strategy.name}" has no enter rule, so it would never trade',
                    strategy.name_span,
                    hint="add a line like: enter long when rsi(close, 14) < 30",
                )
        program = self._program(lowerer, entries, exits, timeframe)
        for name, let in local_lets.items():
            if name not in lowerer.used:
                lowerer.expr(ast.Name(name, span=let.name_span))  # report errors inside it
                diag.warning(
                    f"let {name} is never used",
                    let.name_span,
                    hint="remove it, or use it in a rule",
                )
        used_file_lets.update(n for n in lowerer.used if n not in local_lets)
        for spec_name in sorted(dag.specs):
            plugins.append(self._use("indicator", spec_name, registry.indicators))
        if len(diag.errors) > errors_before:
            return None
        span = strategy.span
        return CheckedStrategy(
            name=strategy.name,
            venue=venue,
            symbol=symbol,
            timeframe=timeframe,
            leverage=leverage,
            sizing=sizing,
            hedge=hedge,
            risk=risk,
            costs=costs,
            uses=strategy.uses,
            params=params_model,
            program=program,
            source=SourceRef(span.file, span.line, span.column),
            plugins=plugins,
        )

    def _program(
        self, lowerer: Lowerer, entries: list[ast.Enter], exits: list[ast.Exit], timeframe: str
    ) -> Program:
        diag = self.diag
        entry_rules: list[EntryRule] = []
        exit_rules: list[ExitRule] = []
        for enter in entries:
            result = lowerer.condition(enter.condition, f"enter {enter.side}")
            confidence = limit = None
            if enter.confidence is not None:
                confidence = lowerer.number(
                    enter.confidence, "confidence", (Unit.NUMBER, Unit.FRACTION)
                )
                known = lowerer.dag[confidence] if confidence is not None else None
                if known is not None and known.is_const and not 0 <= known.value <= 1:
                    diag.error(
                        "confidence must be between 0 and 1 (or 0% and 100%)", enter.confidence.span
                    )
            if enter.order == "limit" and enter.limit_price is not None:
                limit = lowerer.number(
                    enter.limit_price, "a limit price", (Unit.PRICE, Unit.NUMBER)
                )
            elif enter.post_only:
                diag.error(
                    "post_only needs a limit price: enter … at limit <price> post_only", enter.span
                )
            if result is None:
                continue
            condition, explain = result
            entry_rules.append(
                EntryRule(
                    side=enter.side,
                    condition=condition,
                    text=expr_text(enter.condition),
                    explain=explain,
                    confidence=confidence,
                    order=enter.order,
                    limit_price=limit,
                    post_only=enter.post_only,
                    line=enter.span.line,
                )
            )
        for exit_stmt in exits:
            what = f"exit {exit_stmt.side}" if exit_stmt.side else "exit"
            result = lowerer.condition(exit_stmt.condition, what)
            if result is None:
                continue
            node, explain = result
            exit_rules.append(
                ExitRule(
                    exit_stmt.side,
                    node,
                    expr_text(exit_stmt.condition),
                    explain,
                    line=exit_stmt.span.line,
                )
            )
        program = Program(
            dag=lowerer.dag, base=timeframe, entries=tuple(entry_rules), exits=tuple(exit_rules)
        )
        program.higher = tuple(
            sorted(
                {n.domain for n in lowerer.dag.nodes if n.domain not in (CONST, timeframe)},
                key=timeframe_seconds,
            )
        )
        cache: dict[int, int] = {}
        base_seconds = timeframe_seconds(timeframe)
        program.warmup = max(
            (lowerer.dag.lookback(n, base_seconds, cache) for n in program.roots), default=0
        )
        for name, value in lowerer.cache.items():
            if value is None:
                continue
            if value.node is not None:
                program.named[name] = value.node
            elif value.indicator is not None:
                for candidate in lowerer.dag.nodes:
                    if candidate.op == "out" and candidate.args == (value.indicator,):
                        program.named[f"{name}.{candidate.attrs[0]}"] = candidate.id
        return program

    def _sizing(self, size: ast.Size, plugins: list[PluginUse]) -> SizingSpec | None:
        call, registry, diag = size.call, self.registry, self.diag
        if call.func not in registry.sizers:
            diag.error(registry.sizers.unknown_message(call.func), call.name_span)
            return None
        sizer = registry.sizers.get(call.func)
        plugins.append(self._use("sizer", call.func, registry.sizers))
        binder = ParamBinder(f"sizer {call.func}", sizer.params_model, diag)
        values: dict[str, Any] = {}
        spans: dict[str, ast.Span] = {}
        named_seen = False
        ok = True
        for index, arg in enumerate(call.args):
            if arg.name is None:
                if named_seen:
                    diag.error("unnamed parameters come before named ones", arg.span)
                    ok = False
                    continue
                if index >= len(sizer.positional):
                    names = ", ".join(sizer.positional) or "none"
                    diag.error(
                        f"{call.func} takes {len(sizer.positional)} unnamed parameter(s) "
                        f"({names}); name the others",
                        arg.span,
                        hint="valid: " + ", ".join(binder.valid_names()),
                    )
                    ok = False
                    continue
                written_name = sizer.positional[index]
            else:
                named_seen = True
                written_name = arg.name
            name = binder.resolve(written_name, arg.span)
            if name is None:
                ok = False
                continue
            if name in values or name in spans:
                diag.error(f"{written_name} is given twice", arg.span)
                ok = False
                continue
            written = written_of(arg.value)
            if written is None:
                diag.error(
                    f"sizer parameters are written values (100 USD, 5%, true), not "
                    f"expressions like {expr_text(arg.value)}",
                    arg.value.span,
                )
                ok = False
                continue
            spans[name] = arg.span
            converted = binder.convert(name, written)
            if converted is None:
                ok = False
                continue
            values[name] = converted
        if not ok:
            return None
        model = binder.validate(values, spans, call.span)
        return None if model is None else SizingSpec(call.func, model)

    def _uses(
        self,
        strategy: ast.Strategy,
        params: ast.Params | None,
        entries: list[ast.Enter],
        exits: list[ast.Exit],
        lets: dict[str, ast.Let],
        plugins: list[PluginUse],
    ) -> BaseModel | None:
        diag, registry = self.diag, self.registry
        uses = strategy.uses
        assert uses is not None
        rules: list[ast.Enter | ast.Exit] = [*entries, *exits]
        for stmt in rules:
            diag.error(
                f"a strategy that uses {uses} is driven by that plugin; enter and exit "
                "rules belong in rule strategies",
                stmt.span,
            )
        if uses not in registry.strategies:
            diag.error(registry.strategies.unknown_message(uses), strategy.uses_span)
            return None
        plugin = registry.strategies.get(uses)
        plugins.append(self._use("strategy", uses, registry.strategies))
        binder = ParamBinder(uses, plugin.params_model, diag)
        values: dict[str, Any] = {}
        spans: dict[str, ast.Span] = {}
        ok = True
        for param in params.items if params is not None else ():
            name = binder.resolve(param.name, param.span)
            if name is None:
                ok = False
                continue
            if name in spans:
                diag.error(
                    f"{param.name} is given twice (first at line {spans[name].line})", param.span
                )
                ok = False
                continue
            spans[name] = param.span
            converted = binder.convert(name, Written(param.value, param.value.span))
            if converted is None:
                ok = False
                continue
            values[name] = converted
        if not ok:
            return None
        whole = params.span if params is not None else strategy.uses_span
        return binder.validate(values, spans, whole)

    def _use(self, kind: str, name: str, named: Any) -> PluginUse:
        origin = named.origin(name)
        return PluginUse(kind, name, origin.plugin, origin.distribution, origin.version)
