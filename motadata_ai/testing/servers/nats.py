"""pytest fixtures: real nats server for tests."""
