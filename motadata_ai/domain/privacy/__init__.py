"""Privacy and compliance: one erase and one export of a user's data across every store, the
audit trail written off the hot path, keyed pseudonyms, and what the shared caches may keep."""
