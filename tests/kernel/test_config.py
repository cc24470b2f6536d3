"""Settings: unknown keys are errors, secrets never show, bad values say where."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sparkstacker.config import Settings, check_environment, load_settings
from sparkstacker.errors import ConfigError

FAKE_KEY = "0x" + "ab" * 32


class VenueSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPARKSTACKER_VENUEX_", hide_input_in_errors=True)
    private_key: SecretStr | None = None


def test_unknown_setting_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(
        ConfigError, match=r"SPARKSTACKER_LOG_DRI \(did you mean SPARKSTACKER_LOG_DIR\?\)"
    ):
        check_environment(environ={"SPARKSTACKER_LOG_DRI": "x"})


def test_plugin_settings_are_known() -> None:
    env = {"SPARKSTACKER_VENUEX_PRIVATE_KEY": FAKE_KEY, "SPARKSTACKER_DB": "sqlite://"}
    check_environment([(VenueSettings, "SPARKSTACKER_VENUEX_")], environ=env)
    with pytest.raises(ConfigError):
        check_environment([], environ=env)


def test_other_prefixes_are_ignored() -> None:
    check_environment(environ={"SPARK_STACKER": "1", "PATH": "/bin"})


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKSTACKER_METRICS_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="SPARKSTACKER_METRICS_PORT") as info:
        load_settings()
    assert "not-a-port" not in str(info.value)


def test_secrets_never_appear_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKSTACKER_VENUEX_PRIVATE_KEY", FAKE_KEY)
    settings = VenueSettings()
    assert settings.private_key is not None
    assert settings.private_key.get_secret_value() == FAKE_KEY
    assert FAKE_KEY not in repr(settings)
    assert FAKE_KEY not in str(settings.model_dump())


def test_defaults_are_the_embedded_offline_setup() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.db.startswith("sqlite:///")
    assert str(settings.log_dir) == "_logs"
    assert settings.metrics_port == 9000


def test_unknown_keys_in_dotenv_are_errors_but_plugin_keys_are_not(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "# comment\nSPARKSTACKER_VENUEX_PRIVATE_KEY=abc\nexport SPARKSTACKER_DB=sqlite://\n"
    )
    check_environment([(VenueSettings, "SPARKSTACKER_VENUEX_")])
    assert load_settings().db == "sqlite://"
    (tmp_path / ".env").write_text("SPARKSTACKER_LOG_DRI=x\n")
    with pytest.raises(ConfigError, match=r"SPARKSTACKER_LOG_DRI \(did you mean"):
        check_environment([(VenueSettings, "SPARKSTACKER_VENUEX_")])
