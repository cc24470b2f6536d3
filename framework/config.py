"""Settings from the environment and ``.env`` (pydantic-settings).

Every variable starting with ``SPARKSTACKER_`` must be a known setting of the kernel or of an
installed plugin: a typo is an error, not a silently ignored value. Secrets are ``SecretStr``
and never appear in ``repr``, logs or validation errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sparkstacker.errors import ConfigError
from sparkstacker.registry import suggest

PREFIX = "SPARKSTACKER_"


class Settings(BaseSettings):
    """Kernel settings. Exchange credentials live in each exchange plugin's own settings model."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        # .env also holds plugin settings (SPARKSTACKER_HYPERLIQUID_…); check_environment is
        # what rejects unknown keys, against the kernel's and every plugin's settings.
        extra="ignore",
        hide_input_in_errors=True,
        frozen=True,
    )

    db: str = "sqlite:///spark_stacker.db"
    data_dir: Path = Path("spark_stacker_data")
    log_dir: Path = Path("_logs")
    state_dir: Path = Path("spark_stacker_state")
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9000
    disable_plugin_autoload: bool = False
    trace_plugins: bool = False
    test_postgres_url: str | None = None


def env_names(model: type[BaseModel], prefix: str) -> set[str]:
    return {f"{prefix}{name}".upper() for name in model.model_fields}


def dotenv_keys(path: Path = Path(".env")) -> dict[str, str]:
    """The keys a ``.env`` file sets (values are not needed, only names are checked)."""
    if not path.is_file():
        return {}
    keys = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text or text.startswith("#") or "=" not in text:
            continue
        key = text.split("=", 1)[0].strip()
        keys[key.removeprefix("export ").strip()] = ""
    return keys


def check_environment(
    extra_models: Iterable[tuple[type[BaseModel], str]] = (),
    environ: Mapping[str, str] | None = None,
) -> None:
    """Raise ConfigError for any ``SPARKSTACKER_*`` variable (environment or ``.env``) that no
    settings model knows."""
    environ = {**dotenv_keys(), **os.environ} if environ is None else environ
    known = env_names(Settings, PREFIX)
    for model, prefix in extra_models:
        known |= env_names(model, prefix)
    unknown = sorted(
        name for name in environ if name.upper().startswith(PREFIX) and name.upper() not in known
    )
    if unknown:
        problems = []
        for name in unknown:
            close = suggest(name.upper(), sorted(known), limit=1)
            problems.append(f"{name}" + (f" (did you mean {close[0]}?)" if close else ""))
        raise ConfigError("unknown setting(s) in the environment: " + ", ".join(problems))


def check_installed_settings(registry: object) -> None:
    """Check the environment against the kernel's and every installed exchange's settings."""
    models: list[tuple[type[BaseModel], str]] = []
    for entry in getattr(registry, "exchanges").entries():  # noqa: B009 - avoid an import cycle
        model = entry.item.settings_model
        if model is not None:
            prefix = model.model_config.get("env_prefix") or f"{PREFIX}{entry.name.upper()}_"
            models.append((model, str(prefix)))
    check_environment(models)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = (".".join(str(p) for p in error["loc"]) or "settings").upper()
        name = where if where.startswith(PREFIX) else f"{PREFIX}{where}"
        parts.append(f"{name}: {error['msg']}")
    return "invalid settings: " + "; ".join(parts)
