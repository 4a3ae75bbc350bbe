from __future__ import annotations

import pytest

from pipeline.config import REPO_ROOT, load_settings
from pipeline.errors import ConfigError


def test_config_defaults_point_into_the_repository():
    settings = load_settings()
    assert settings.models_dir == REPO_ROOT / "models"
    assert settings.reading.language == settings.language == "en"


def test_config_user_file_overrides_key_by_key(tmp_path):
    user = tmp_path / "mine.toml"
    user.write_text('language = "zh"\ncalibrate_values = false\n[review]\nfield_confidence = 0.8\n')
    settings = load_settings(user)
    assert settings.language == "zh" and settings.reading.language == "zh"
    assert settings.review.field_confidence == 0.8
    assert settings.review.line_item_confidence == 0.85  # untouched default
    assert settings.models_dir == REPO_ROOT / "models"  # default stays relative to the repo


def test_config_relative_paths_of_a_user_file_are_its_own(tmp_path):
    user = tmp_path / "mine.toml"
    user.write_text('models_dir = "my-models"\n')
    assert load_settings(user).models_dir == tmp_path / "my-models"


def test_config_errors_name_file_key_and_options(tmp_path):
    user = tmp_path / "bad.toml"
    user.write_text("[review]\nfield_confidnce = 0.5\n")
    with pytest.raises(ConfigError) as error:
        load_settings(user)
    message = str(error.value)
    assert "bad.toml" in message and "field_confidnce" in message
    broken = tmp_path / "broken.toml"
    broken.write_text("language = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken)


def test_config_score_fraud_off_loads_no_fraud_model(tmp_path):
    from pipeline.process import load_resources

    user = tmp_path / "training-run.toml"
    user.write_text("score_fraud = false\n")
    settings = load_settings(user)
    assert settings.score_fraud is False and load_settings().score_fraud is True
    assert load_resources(settings).fraud_model is None
