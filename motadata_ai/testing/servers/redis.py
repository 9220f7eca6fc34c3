"""pytest fixtures: real redis server for tests."""
