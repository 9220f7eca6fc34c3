"""Test configuration: offline LiteLLM and models, real-server fixtures."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytest_plugins = [
    "motadata_ai.testing.servers.postgres",
    "motadata_ai.testing.servers.redis",
    "motadata_ai.testing.servers.nats",
    "motadata_ai.testing.servers.openai",
]
