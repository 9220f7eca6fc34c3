"""pytest fixtures: real openai server for tests."""
