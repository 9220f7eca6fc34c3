"""Fault tests: kill -9 and concurrency against the real servers, checking invariants, not timings."""
