"""The sim is an ordinary plugin: found through its entry point, built from plain options."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from simkit import eth
from sparkstacker.errors import ConfigError, ExchangeError, PluginError
from sparkstacker.exchange import Exchange
from sparkstacker.model import InstrumentKind
from sparkstacker_plugins.exchanges.sim.exchange import SimExchange
from sparkstacker_plugins.exchanges.sim.options import SimOptions
from sparkstacker_plugins.slippage.models import FixedBps, VolumeImpact


def test_registered_as_a_simulated_exchange(registry) -> None:  # type: ignore[no-untyped-def]
    plugin = registry.exchanges.get("sim")
    assert plugin.live is False
    assert plugin.capabilities.simulated is True
    assert plugin.settings_model is SimOptions
    assert registry.exchanges.origin("sim").distribution == "spark-stacker"


def test_create_from_plain_options_implements_the_exchange_protocol(registry) -> None:  # type: ignore[no-untyped-def]
    sim = registry.exchanges.get("sim").create(
        "paper.main",
        {"initial_equity": "2500", "slippage": "volume_impact", "slippage_params": {"k": 0.2}},
    )
    assert isinstance(sim, Exchange)
    assert isinstance(sim, SimExchange)
    assert (sim.name, sim.venue) == ("paper.main", "sim")
    assert isinstance(sim.slippage_model, VolumeImpact)
    assert sim.slippage_model.k == 0.2
    sim.add_market(eth())
    account = asyncio.run(sim.account())
    assert account.equity == Decimal(2500)
    assert account.simulated is True


def test_bad_options_are_config_errors(registry) -> None:  # type: ignore[no-untyped-def]
    create = registry.exchanges.get("sim").create
    with pytest.raises(ConfigError, match="fill_at"):
        create("sim", {"fill_at": "tomorrow"})
    with pytest.raises(ConfigError, match="latncy_ms"):
        create("sim", {"latncy_ms": 5})


def test_unknown_slippage_model_suggests_the_near_name(registry) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PluginError, match="fixed_bps"):
        SimExchange("sim", SimOptions(slippage="fixed_bp"), registry=registry)


def test_bad_slippage_params_name_the_model(registry) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="fixed_bps"):
        SimExchange("sim", SimOptions(slippage_params={"bsp": 2}), registry=registry)


def test_an_instance_can_be_given_directly() -> None:
    model = FixedBps(3)
    assert SimExchange("sim", slippage_model=model).slippage_model is model


def test_only_linear_perpetuals_are_simulated() -> None:
    sim = SimExchange("sim", slippage_model=FixedBps(0))
    with pytest.raises(ExchangeError, match="linear perpetuals"):
        sim.add_market(eth(kind=InstrumentKind.SPOT))
    with pytest.raises(ExchangeError, match="contract size"):
        sim.add_market(eth(contract_size=Decimal(10)))
    sim.add_market(eth())
    with pytest.raises(ExchangeError, match="already added"):
        sim.add_market(eth())
