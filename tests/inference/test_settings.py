"""One serve settings schema: overrides are checked by the same bounds as mlward.yaml."""

from __future__ import annotations

import pytest

from mlward.core.config import ServeSection
from mlward.core.errors import ConfigError
from mlward.inference.settings import GuardSettings, ModelServeSpec, ServeSettings, load_settings


def test_an_out_of_bounds_override_is_refused_with_the_key_and_the_bound():
    with pytest.raises(ConfigError) as caught:
        load_settings(ServeSection(), {"port": 0})
    message = caught.value.message
    assert "serve" in message and "port" in message
    assert "greater than or equal to 1" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [("journal_sync_interval", 60), ("workers", 0), ("max_body_bytes", 10), ("token_cache_seconds", -1)],
)
def test_every_bound_of_the_core_section_holds_for_overrides(key, value):
    with pytest.raises(ConfigError, match=key):
        load_settings(ServeSection(), {key: value})


def test_models_and_guards_are_typed_and_checked():
    settings = load_settings(
        ServeSection(models={"m": {"abuse_policy": "block"}}, guards={"history": 64}),
        {"refresh_interval": 0.5, "registry_poll_interval": 0},
    )
    assert isinstance(settings.for_model("m"), ModelServeSpec)
    assert settings.for_model("m").abuse_policy == "block"
    assert settings.guards == GuardSettings(history=64)
    assert settings.refresh_interval == 0.5
    with pytest.raises(ConfigError, match="history"):
        load_settings(ServeSection(), {"guards": {"history": 1}})
    with pytest.raises(ConfigError, match="abuse_policy"):
        load_settings(ServeSection(), {"models": {"m": {"abuse_policy": "shout"}}})


def test_the_schema_is_declared_once():
    # Every key of the gateway's settings is a key of the core section (no second copy).
    assert set(ServeSettings.model_fields) == set(ServeSection.model_fields)
    assert ServeSettings.model_fields["port"].metadata == ServeSection.model_fields["port"].metadata
