"""``import``: relative resolution, shared lets and portfolio, cycles, and only .rules files."""

from __future__ import annotations

from pathlib import Path

import pytest
from langkit import strategy
from sparkstacker.errors import RuleError
from sparkstacker.lang import check_files, compile_file, severity


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_imported_lets_and_portfolio_are_available(tmp_path: Path, lang_registry) -> None:  # type: ignore[no-untyped-def]
    write(
        tmp_path / "shared" / "defs.rules",
        "let fast = ema(close, 5)\nlet slow = ema(close, 20)\nportfolio { max_leverage 3x }\n",
    )
    main = write(
        tmp_path / "strategies" / "main.rules",
        'import "../shared/defs.rules"\n' + strategy("enter long when fast crosses above slow"),
    )
    rules = compile_file(main, lang_registry)
    assert rules.portfolio is not None
    assert str(rules.portfolio.max_leverage) == "3"
    assert rules.files == (
        str(main),
        str(tmp_path / "strategies" / "../shared/defs.rules").replace("strategies/../", ""),
    )
    dag = rules.strategies[0].program.dag
    assert sorted(dag.text(n.id) for n in dag.nodes if n.op == "ind") == [
        "ema(close, 20)",
        "ema(close, 5)",
    ]
    assert rules.warnings == ()


def test_import_cycle_is_an_error_at_the_import(tmp_path: Path, lang_registry) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "a.rules", 'import "b.rules"\nlet x = close\n')
    write(tmp_path / "b.rules", 'import "a.rules"\nlet y = open\n')
    main = write(tmp_path / "main.rules", 'import "a.rules"\n' + strategy("enter long when x > y"))
    found = [e for e in check_files([main], lang_registry) if severity(e) == "error"]
    assert len(found) == 1
    assert found[0].message == "import cycle: a.rules → b.rules → a.rules"
    assert found[0].file is not None
    assert found[0].file.endswith("b.rules")
    assert found[0].line == 1


def test_missing_and_non_rules_imports(tmp_path: Path, lang_registry) -> None:  # type: ignore[no-untyped-def]
    main = write(
        tmp_path / "main.rules",
        'import "nope.rules"\nimport "/etc/passwd"\n' + strategy("enter long when close > open"),
    )
    messages = [e.message for e in check_files([main], lang_registry)]
    assert messages[0].startswith("imported file 'nope.rules' does not exist")
    assert messages[1] == "only .rules files can be imported, not '/etc/passwd'"


def test_errors_inside_an_imported_file_name_that_file(tmp_path: Path, lang_registry) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "defs.rules", "let fast = ema(close, 5\n")
    main = write(
        tmp_path / "main.rules", 'import "defs.rules"\n' + strategy("enter long when close > open")
    )
    with pytest.raises(RuleError) as info:
        compile_file(main, lang_registry)
    assert info.value.file is not None
    assert info.value.file.endswith("defs.rules")


def test_strategies_of_an_imported_file_are_not_run(tmp_path: Path, lang_registry) -> None:  # type: ignore[no-untyped-def]
    write(
        tmp_path / "other.rules", strategy("enter long when close > open").replace('"s"', '"other"')
    )
    main = write(
        tmp_path / "main.rules", 'import "other.rules"\n' + strategy("enter long when close > open")
    )
    rules = compile_file(main, lang_registry)
    assert [s.name for s in rules.strategies] == ["s"]
    assert "are not run from here" in rules.warnings[0].message


def test_two_portfolios_are_an_error(tmp_path: Path, lang_registry) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "p.rules", "portfolio { max_leverage 3x }\n")
    main = write(tmp_path / "main.rules", 'import "p.rules"\nportfolio { max_leverage 2x }\n')
    with pytest.raises(RuleError, match="a second portfolio block"):
        compile_file(main, lang_registry)
