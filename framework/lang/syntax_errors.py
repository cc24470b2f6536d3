"""Turn lark's parse exceptions into messages a trader understands.

Two layers: a catalogue of common mistakes recognised with ``match_examples`` (each with a
tailored message), and a generic "expected …, found …" sentence that names terminals in words.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable

from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr
from sparkstacker.errors import RuleError
from sparkstacker.lang import ast
from sparkstacker.lang.diagnostics import Sources, make_error

# ---- the catalogue of common mistakes --------------------------------------------------------

_S = 'strategy "s" {\n  market ETH-USD on sim\n  timeframe 1h\n'

MISTAKES: dict[str, tuple[str, str | None, list[str]]] = {
    # label: (message, hint, examples). An error matches a label when it stops the parser in
    # the same LALR state on the same kind of token as one of the examples; labels in
    # STATE_IS_ENOUGH match on the state alone (whatever token came instead).
    "assign_in_condition": (
        "a condition compares with ==, not =",
        "write `close == open`; `=` only binds a name in `let`",
        [
            _S + "  enter long when close = open\n}",
            _S + "  exit when rsi(close, 14) = 50\n}",
            _S + "  enter long when close > open and open = 1\n}",
            _S + "  enter long when close[1] = open\n}",
            _S + "  enter long when f(x) = open\n}",
            _S + "  enter long when a.b = open\n}",
        ],
    ),
    "crosses_without_direction": (
        "`crosses` needs a direction: `crosses above` or `crosses below`",
        "write `a crosses above b` (a goes from <= b to > b) or `a crosses below b`",
        [
            _S + "  enter long when close crosses open\n}",
            _S + "  enter long when close crosses 5\n}",
            _S + "  enter long when close crosses (open)\n}",
            _S + "  enter long when close crosses ema(close, 3)\n}",
        ],
    ),
    "missing_when": (
        "`when` is missing before the condition",
        "write `enter long when <condition>` or `exit when <condition>`",
        [
            _S + "  enter long close > open\n}",
            _S + "  enter short rsi(close, 14) > 70\n}",
            _S + "  enter long (close > open)\n}",
            _S + "  enter long not close > open\n}",
            _S + "  enter long 1 > 2\n}",
            _S + "  exit long close > open\n}",
            _S + "  exit short (close > open)\n}",
            _S + "  exit bars_held > 5\n}",
            _S + "  exit (close > open)\n}",
        ],
    ),
    "missing_side": (
        "`enter` needs a side: `enter long when …` or `enter short when …`",
        None,
        [_S + "  enter when close > open\n}", _S + "  enter close > open\n}"],
    ),
    "hedge_needs_commas": (
        "hedge settings are separated by commas",
        "write `hedge ratio 20%, leverage 5x, on hyperliquid, within 10s else unwind`",
        [
            _S + "  hedge ratio 20% on sim\n}",
            _S + "  hedge ratio 20% within 10s else unwind\n}",
            _S + "  hedge ratio 20%, leverage 5x on sim\n}",
            _S + "  hedge ratio 20%, leverage 5x within 10s else keep\n}",
            _S + "  hedge leverage 5x ratio 20%\n}",
        ],
    ),
    "hedge_market_swallowed": (
        "this `market` line was read as the hedge's market, because it directly follows "
        "`hedge … on <exchange>`",
        "put the `market` line before the hedge clause, or end the hedge clause with `;`",
        [_S + "  hedge ratio 20%, on sim\n  market ETH-USD on sim\n}"],
    ),
    "unquoted_strategy_name": (
        'a strategy name is quoted: strategy "macd_eth" { … }',
        None,
        ["strategy macd { }", "strategy macd_eth uses market_maker { }"],
    ),
    "let_needs_single_equals": (
        "`let` binds a name with a single =",
        "write `let fast = ema(close, 12)`",
        [_S + "  let a == close\n}", "let a == close"],
    ),
    "percent_before_number": (
        "a unit comes after its number: write 5%, 10 bps, 100 USD, 10x",
        None,
        [
            _S + "  risk stop_loss %5\n}",
            _S + "  leverage x10\n}",
            _S + "  risk stop_loss $5\n}",
            _S + "  risk max_position $100\n}",
        ],
    ),
}


STATE_IS_ENOUGH = {
    "crosses_without_direction",
    "missing_when",
    "missing_side",
    "unquoted_strategy_name",
}

Signature = tuple[str, object, str]


def _signature(exc: UnexpectedInput) -> Signature:
    state = getattr(exc, "state", None)
    position = getattr(state, "position", state)
    if isinstance(exc, UnexpectedToken):
        return ("token", position, str(exc.token.type))
    if isinstance(exc, UnexpectedCharacters):
        return ("char", position, exc.char)
    return ("other", position, "")


@functools.cache
def _catalogue() -> tuple[dict[Signature, str], dict[object, str]]:
    """Signatures of the catalogued examples, computed once (lark's own ``match_examples``
    re-parses every example on every error, too slow for fuzzing)."""
    from sparkstacker.lang.parser import parse_tree

    exact: dict[Signature, str] = {}
    by_state: dict[object, str] = {}
    for label, (_, _, examples) in MISTAKES.items():
        for example in examples:
            try:
                parse_tree(example)
            except UnexpectedInput as ut:
                signature = _signature(ut)
                exact.setdefault(signature, label)
                if label in STATE_IS_ENOUGH:
                    by_state.setdefault(signature[1], label)
            # an example that parses is skipped here; a test requires every example to fail
    return exact, by_state


def match_mistake(exc: UnexpectedInput) -> str | None:
    """The catalogue label of a parse error, or None."""
    exact, by_state = _catalogue()
    signature = _signature(exc)
    return exact.get(signature) or by_state.get(signature[1])


# ---- terminal names in words ------------------------------------------------------------------

TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a quoted text like "name"',
    "SYMBOL": "a market symbol like ETH-USD",
    "TIME": "a time like 00:00",
    "$END": "the end of the file",
}

STATEMENT_WORDS = [
    "market",
    "timeframe",
    "let",
    "enter",
    "exit",
    "size",
    "leverage",
    "hedge",
    "risk",
    "params",
    "fees",
    "slippage",
    "fill",
    "initial_equity",
]
OPERATOR_WORDS = {"+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!=", "and", "or", "crosses"}
UNIT_WORDS = {"%", "bps", "USD", "USDC", "USDT", "x", "bars", "bar", "s", "m", "h", "d", "w"}
RISK_WORDS = [
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "max_position",
    "max_leverage",
    "max_drawdown",
    "daily_loss",
    "max_duration",
    "margin_warning",
]


def _terminal_text(name: str) -> str | None:
    """The literal text of a keyword/punctuation terminal, or None for a pattern terminal."""
    from sparkstacker.lang.parser import lark_parser

    try:
        terminal = lark_parser().get_terminal(name)
    except KeyError:
        return None
    if isinstance(terminal.pattern, PatternStr):
        return str(terminal.pattern.value)
    return None


def expected_words(names: Iterable[str]) -> list[str]:
    """Expected terminals in words, with statement keywords, operators and units grouped."""
    literal: set[str] = set()
    words: list[str] = []
    for name in sorted(set(names)):
        if name.startswith("_") and name != "_SEP":
            continue
        text = _terminal_text(name)
        if text is None:
            if name in TERMINAL_WORDS:
                words.append(TERMINAL_WORDS[name])
            continue
        literal.add(text)
    statements = literal & set(STATEMENT_WORDS)
    operators = literal & OPERATOR_WORDS
    units = literal & UNIT_WORDS
    out: list[str] = []
    if len(statements) >= 5:
        out.append(
            "a new statement (" + ", ".join(s for s in STATEMENT_WORDS if s in literal) + ")"
        )
        literal -= statements
    if len(operators) >= 4:
        out.append("an operator (+ - * / < > == and or crosses …)")
        literal -= operators
    if len(units) >= 4:
        out.append("a unit (% bps USD x h bars …)")
        literal -= units
    literal.discard(";")
    out.extend(f"'{t}'" for t in sorted(literal))
    out.extend(words)
    return out


def _join(words: list[str]) -> str:
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


# ---- translation ------------------------------------------------------------------------------


def translate(exc: UnexpectedInput, text: str, filename: str, sources: Sources) -> RuleError:
    """A located RuleError for a lark parse exception."""
    label = match_mistake(exc)
    line = getattr(exc, "line", None) or 1
    column = getattr(exc, "column", None) or 1
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        return _end_of_file(exc, text, filename, sources)
    width = 1
    if isinstance(exc, UnexpectedToken) and exc.token.value:
        width = max(1, len(str(exc.token.value).splitlines()[0]))
    span = ast.Span(filename, line, column, line, column + width)
    if label is not None:
        message, hint, _ = MISTAKES[label]
        return make_error(message, span, sources, hint=hint)
    if isinstance(exc, UnexpectedCharacters):
        return _unexpected_character(exc, span, sources)
    assert isinstance(exc, UnexpectedToken)
    if exc.token.type == "NAME" and _followed_by_single_equals(text, exc.token):
        return make_error(
            "to name a value, start the line with `let`",
            span,
            sources,
            hint=f"write `let {exc.token.value} = …`",
        )
    return _unexpected_token(exc, span, sources)


def _followed_by_single_equals(text: str, token: object) -> bool:
    end = getattr(token, "end_pos", None)
    if end is None:
        return False
    rest = text[end:].lstrip(" \t")
    return rest.startswith("=") and not rest.startswith("==")


def _unexpected_character(exc: UnexpectedCharacters, span: ast.Span, sources: Sources) -> RuleError:
    char = exc.char
    hints = {
        "&": "write `and` instead of &&",
        "|": "write `or` instead of ||",
        "!": "write `not` instead of !, and != for 'not equal'",
        "$": "write money after the number with its currency: 100 USD",
        "=": "compare with ==, bind names with `let name = …`",
        "'": 'quote text with double quotes: "name"',
    }
    expected = expected_words(exc.allowed or ())
    message = f"unexpected character {char!r}; expected {_join(expected)}"
    return make_error(message, span, sources, hint=hints.get(char))


def _unexpected_token(exc: UnexpectedToken, span: ast.Span, sources: Sources) -> RuleError:
    token = exc.token
    value = str(token.value)
    expected_names = set(exc.accepts or exc.expected or ())
    expected = expected_words(expected_names)
    found = f"'{value}'" if token.type != "NAME" else f"name '{value}'"
    message = f"unexpected {found}; expected {_join(expected)}"
    hint = None
    if token.type == "NAME" or value.isidentifier():
        keywords = [
            t for t in (_terminal_text(n) for n in expected_names) if t and t.isidentifier()
        ]
        if value in RISK_WORDS and "risk" in keywords:
            hint = f"{value} belongs in a risk clause: risk {value} …"
        else:
            pool = keywords + (RISK_WORDS if "risk" in keywords else [])
            close = difflib.get_close_matches(value, pool, n=3, cutoff=0.6)
            if close:
                hint = "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    return make_error(message, span, sources, hint=hint)


def _end_of_file(exc: UnexpectedToken, text: str, filename: str, sources: Sources) -> RuleError:
    lines = text.splitlines() or [""]
    last = len(lines)
    while last > 1 and not lines[last - 1].strip():
        last -= 1
    end_col = len(lines[last - 1].rstrip()) + 1
    span = ast.Span(filename, last, max(1, end_col), last, max(1, end_col) + 1)
    opened = _unclosed_brace(text)
    if opened is not None and "RBRACE" in set(exc.accepts or exc.expected or ()):
        line, column = opened
        return make_error(
            f"missing '}}': the block opened at line {line}, column {column} is never closed",
            span,
            sources,
            hint="add '}' at the end of the block",
        )
    expected = expected_words(exc.accepts or exc.expected or ())
    return make_error(f"the file ends too early; expected {_join(expected)}", span, sources)


def _unclosed_brace(text: str) -> tuple[int, int] | None:
    """Line and column of the innermost '{' that has no matching '}'."""
    stack: list[tuple[int, int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        in_string = False
        for column, char in enumerate(line, start=1):
            if char == '"':
                in_string = not in_string
            elif in_string:
                continue
            elif char == "#" or line[column - 1 : column + 1] == "//":
                break
            elif char == "{":
                stack.append((number, column))
            elif char == "}" and stack:
                stack.pop()
    return stack[-1] if stack else None
