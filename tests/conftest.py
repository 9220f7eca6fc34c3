"""Test configuration: offline LiteLLM and models, real-server fixtures."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# No test may reach a real model provider: only in-process providers and loopback servers.
os.environ.setdefault("MOTADATA_ALLOW_MODEL_REQUESTS", "false")

pytest_plugins = [
    "motadata_ai.testing.servers.postgres",
    "motadata_ai.testing.servers.redis",
    "motadata_ai.testing.servers.redis_cluster",
    "motadata_ai.testing.servers.nats",
    "motadata_ai.testing.servers.nats_cluster",
    "motadata_ai.testing.servers.openai",
]
