"""Registers the simulated venue (``exchanges.sim``) used by backtests and paper runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sparkstacker import hookimpl
from sparkstacker.errors import ConfigError
from sparkstacker.exchange import Exchange, ExchangePlugin
from sparkstacker_plugins.exchanges.sim.options import CAPABILITIES, SimOptions


def create(instance_name: str, options: Mapping[str, Any]) -> Exchange:
    """Build a :class:`SimExchange` from plain options (validated by :class:`SimOptions`)."""
    from sparkstacker_plugins.exchanges.sim.exchange import SimExchange

    try:
        settings = SimOptions.model_validate(dict(options))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise ConfigError(f"exchange {instance_name!r} (sim): {problems}") from None
    return SimExchange(instance_name, settings)


@hookimpl
def register_exchanges() -> list[ExchangePlugin]:
    return [
        ExchangePlugin(
            name="sim",
            summary=(
                "Simulated venue for backtests and paper runs: Hyperliquid's order rules, "
                "fees, funding, margin and liquidation, with slippage and latency models."
            ),
            create=create,
            settings_model=SimOptions,
            capabilities=CAPABILITIES,
            live=False,
        )
    ]
