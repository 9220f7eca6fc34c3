"""pytest fixtures: real postgres server for tests."""
