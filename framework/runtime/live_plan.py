"""Before a live run: credentials present, and a plain statement of what will be traded.

``spark-stacker run --live`` prints :func:`describe_live` — strategies, venues and accounts,
leverage, sizes and limits, governor levels — and trades only after ``--yes`` or a typed
confirmation. Nothing here touches the network, and no secret value is ever printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from pydantic import BaseModel, SecretStr, ValidationError
from sparkstacker.engine.setup import hedge_instance, venue_plans
from sparkstacker.errors import ConfigError
from sparkstacker.lang.plan import CompiledRules, MoneyLimit
from sparkstacker.registry import Registry
from sparkstacker.runtime.venues import VenueConfig, live_venues

REQUIRED_PLAIN = ("account_address",)


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_is_secret(arg) for arg in get_args(annotation))


def _money(limit: MoneyLimit | None) -> str | None:
    if limit is None:
        return None
    if limit.amount is not None:
        return f"{limit.amount} USD"
    return f"{limit.fraction:%}" if limit.fraction is not None else None


def check_credentials(
    compiled: CompiledRules, registry: Registry, config: Mapping[str, VenueConfig]
) -> dict[str, Any]:
    """Load each live venue plugin's settings from the environment; refuse when a credential is
    missing. Returns per-instance settings objects (for the plan; repr never shows secrets)."""
    out: dict[str, Any] = {}
    missing: list[str] = []
    for instance in venue_plans(compiled.strategies):
        chosen = config.get(instance) or VenueConfig(instance, instance.split(".")[0], {})
        plugin = registry.exchanges.get(chosen.plugin)
        if not plugin.live:
            raise ConfigError(f"venue {instance!r} ({chosen.plugin}) cannot trade live")
        model = plugin.settings_model
        if model is None:
            continue
        try:
            settings: BaseModel = model()
        except ValidationError as exc:
            raise ConfigError(
                f"{chosen.plugin} settings in the environment are invalid: "
                + "; ".join(
                    str(e["msg"]) for e in exc.errors(include_input=False, include_url=False)
                )
            ) from None
        prefix = str(model.model_config.get("env_prefix") or "")
        for name, info in model.model_fields.items():
            value = getattr(settings, name)
            secret = _is_secret(info.annotation)
            if (secret or name in REQUIRED_PLAIN) and (value is None or value == ""):
                missing.append(f"{prefix}{name.upper()}")
        out[instance] = settings
    if missing:
        raise ConfigError(
            "live trading needs credentials in the environment (or .env): "
            + ", ".join(sorted(set(missing)))
            + ". Nothing was sent."
        )
    # Build each venue instance (no network): sub-accounts and options are checked now, before
    # anyone is asked to confirm a plan that could not run.
    for instance, venue in live_venues(list(compiled.strategies), registry, config).items():
        out[instance] = getattr(venue, "settings", out.get(instance))
    return out


def describe_live(
    compiled: CompiledRules, settings: Mapping[str, Any], config: Mapping[str, VenueConfig]
) -> list[str]:
    """The plan of a live run, line by line."""
    lines = ["LIVE TRADING — real orders, real money"]
    for instance, value in settings.items():
        network = getattr(value, "network", "?")
        address = getattr(value, "trading_address", None) or getattr(value, "account_address", None)
        shown = (
            f"{address[:6]}…{address[-4:]}"
            if isinstance(address, str) and len(address) > 12
            else address
        )
        lines.append(
            f"venue {instance}: {network}, account {getattr(value, 'account', 'main')} ({shown})"
        )
    for plan in compiled.strategies:
        size = plan.sizing.sizer if plan.sizing is not None else (plan.uses or "none")
        params = plan.sizing.params if plan.sizing is not None else None
        limits = []
        risk = plan.risk
        for label, value in (
            ("stop_loss", risk.stop_loss),
            ("take_profit", risk.take_profit),
            ("trailing_stop", risk.trailing_stop),
            ("max_drawdown", risk.max_drawdown),
        ):
            if value is not None:
                limits.append(f"{label} {value:%}")
        if risk.max_position is not None:
            limits.append(f"max_position {_money(risk.max_position)}")
        if risk.daily_loss is not None:
            limits.append(f"daily_loss {_money(risk.daily_loss)}")
        for warning in risk.margin_warnings:
            limits.append(f"margin_warning {warning.level:%} {warning.action}")
        shown = ""
        if params is not None:
            given = params.model_dump(exclude_defaults=True)
            shown = "(" + ", ".join(f"{k}={v}" for k, v in given.items()) + ")"
        lines.append(
            f"strategy {plan.name}: {plan.symbol} {plan.timeframe} on {plan.venue}, leverage "
            f"{plan.leverage}x, size {size}{shown}"
        )
        if plan.hedge is not None:
            lines.append(
                f"  hedge {plan.hedge.ratio:%} at {plan.hedge.leverage}x on {hedge_instance(plan)}"
                f", within {plan.hedge.within.total_seconds():g}s else {plan.hedge.on_timeout}"
                + (f" {plan.hedge.retries}" if plan.hedge.on_timeout == "retry" else "")
            )
        lines.append("  limits: " + (", ".join(limits) or "none"))
    portfolio = compiled.portfolio
    if portfolio is not None:
        parts = []
        if portfolio.max_gross_exposure is not None:
            parts.append(f"max gross exposure {_money(portfolio.max_gross_exposure)}")
        if portfolio.max_leverage is not None:
            parts.append(f"max leverage {portfolio.max_leverage}x")
        lines.append("portfolio: " + (", ".join(parts) or "no limits"))
        for level in portfolio.levels:
            lines.append(
                f"  governor: on {level.metric} {_money(level.threshold)} → {level.action}"
            )
    else:
        lines.append("portfolio: no account-level limits (no portfolio block)")
    del config
    return lines
