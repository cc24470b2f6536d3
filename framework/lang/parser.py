"""Text → AST. The LALR parser is built once, lazily, from ``grammar.lark`` in this package.

Every lark exception is turned into a located :class:`~sparkstacker.errors.RuleError` here
(:mod:`sparkstacker.lang.syntax_errors` words the message); nothing from lark leaks out.
"""

from __future__ import annotations

import functools

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, VisitError
from sparkstacker.errors import RuleError
from sparkstacker.lang import ast
from sparkstacker.lang.diagnostics import Sources, make_error
from sparkstacker.lang.transform import _BadLiteral, tree_to_ast

MAX_NESTING = 64
"""Deepest bracket nesting accepted; deeper input is refused before parsing (no recursion)."""


@functools.cache
def lark_parser() -> Lark:
    """The grammar compiled to an LALR table (built on first use, then cached)."""
    return Lark.open_from_package(
        "sparkstacker.lang",
        "grammar.lark",
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
    )


def parse_tree(text: str) -> Tree[Token]:
    """The raw lark tree (raises lark's exceptions; used by error matching and tests)."""
    return lark_parser().parse(text)


def parse(text: str, filename: str = "<rules>") -> ast.RuleFile:
    """Parse one rule file into its AST. Syntax errors raise a located :class:`RuleError`.

    The AST is immutable, so recent results are cached (a file imported by several files, or
    checked and then compiled, is parsed once).
    """
    return _parse_cached(text, filename)


@functools.lru_cache(maxsize=64)
def _parse_cached(text: str, filename: str) -> ast.RuleFile:
    sources = Sources()
    sources.add(filename, text)
    _check_nesting(text, filename, sources)
    try:
        tree = parse_tree(text)
    except UnexpectedInput as exc:
        from sparkstacker.lang.syntax_errors import translate

        raise translate(exc, text, filename, sources) from exc
    try:
        return tree_to_ast(tree, filename)
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, _BadLiteral):
            raise make_error(inner.message, inner.span, sources) from inner
        raise


def _check_nesting(text: str, filename: str, sources: Sources) -> None:
    depth = 0
    line, column = 1, 0
    in_string = False
    comment = False
    previous = ""
    for char in text:
        column += 1
        if char == "\n":
            line, column, in_string, comment = line + 1, 0, False, False
        elif comment:
            pass
        elif char == '"':
            in_string = not in_string
        elif in_string:
            pass
        elif char == "#" or (char == "/" and previous == "/"):
            comment = True
        elif char in "([{":
            depth += 1
            if depth > MAX_NESTING:
                span = ast.Span(filename, line, column, line, column + 1)
                raise make_error(
                    f"brackets are nested more than {MAX_NESTING} deep here",
                    span,
                    sources,
                    hint="split the expression with let bindings",
                )
        elif char in ")]}":
            depth = max(0, depth - 1)
        previous = char


def parse_error_or_none(text: str, filename: str = "<rules>") -> RuleError | None:
    """The syntax error of ``text``, or None when it parses."""
    try:
        parse(text, filename)
    except RuleError as err:
        return err
    return None
