"""The ``spark-stacker`` command line (typer + rich).

User errors end with a one-line message and a non-zero exit code; ``--debug`` shows tracebacks.
Each command group lives in its own module and registers itself on :data:`app`; plugins add
commands through the ``register_commands`` hook.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer
from rich.console import Console
from rich.markup import escape
from sparkstacker.errors import SparkStackerError

app = typer.Typer(
    name="spark-stacker",
    help="Trade crypto perpetual futures from rule files: backtest, paper, live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)

EXIT_USER_ERROR = 2
COMMAND_MODULES = (
    "sparkstacker.cli.kernel_cmds",
    "sparkstacker.cli.rules_cmds",
    "sparkstacker.cli.data_cmds",
    "sparkstacker.cli.backtest_cmds",
    "sparkstacker.cli.run_cmds",
    "sparkstacker.cli.journal_cmds",
    "sparkstacker.cli.markets_cmds",
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _state["debug"] = debug or bool(os.environ.get("SPARKSTACKER_DEBUG"))


def _load_commands() -> None:
    for module in COMMAND_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def _prepare() -> None:
    """Load plugins, let them add commands, and check the environment's settings."""
    from sparkstacker.config import check_installed_settings
    from sparkstacker.plugins import make_plugin_manager
    from sparkstacker.registry import Registry

    pm = make_plugin_manager()
    pm.hook.register_commands(cli=app)
    check_installed_settings(Registry(pm))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one-line errors for users, tracebacks only with --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or bool(os.environ.get("SPARKSTACKER_DEBUG"))
    try:
        _load_commands()
        _prepare()
        app(args=args, prog_name="spark-stacker")
    except SparkStackerError as exc:
        if debug:
            raise
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise SystemExit(EXIT_USER_ERROR) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise SystemExit(130) from None
    except Exception as exc:
        if debug:
            raise
        err_console.print(
            f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))}\n"
            "run again with --debug for the traceback, and please report it",
            highlight=False,
            soft_wrap=True,
        )
        raise SystemExit(1) from None


def is_debug() -> bool:
    return _state["debug"]
