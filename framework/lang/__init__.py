"""The rule language: parse, check, compile, format and explain ``.rules`` files.

Nothing in a rule file runs code: names resolve only against the plugin registry passed in.

>>> rules = compile_file("rules/examples/rsi_eth_4h.rules", registry)   # doctest: +SKIP
>>> plan = rules.strategies[0]; prepared = plan.prepare(frame)          # doctest: +SKIP
"""

from sparkstacker.lang.compile import check_files, check_text, compile_file, compile_text
from sparkstacker.lang.diagnostics import RuleWarning, severity
from sparkstacker.lang.format import format_text
from sparkstacker.lang.parser import parse
from sparkstacker.lang.rule_plan import RuleStrategyPlan

__all__ = [
    "RuleStrategyPlan",
    "RuleWarning",
    "check_files",
    "check_text",
    "compile_file",
    "compile_text",
    "format_text",
    "parse",
    "severity",
]
