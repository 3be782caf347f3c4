"""Model config guards: a PR may edit model configs, never where the key goes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from evalbot.inputs.config import ModelConfig


def test_model_config_env_names_cannot_point_at_other_secrets():
    with pytest.raises(ValidationError, match="_URL"):
        ModelConfig(model="m", base_url_env="GITHUB_TOKEN")
    with pytest.raises(ValidationError, match="_KEY"):
        ModelConfig(model="m", api_key_env="GITHUB_TOKEN")
    assert ModelConfig(model="m", base_url_env="VLLM_BASE_URL", api_key_env="VLLM_API_KEY")
