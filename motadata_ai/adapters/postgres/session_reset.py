"""Pooled connections that skip the release-time reset unless their session was changed.

asyncpg resets every connection it takes back into the pool (``Connection.reset``: ``SELECT
pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``), and the caller of ``release``
waits for that round trip: one more round trip on every search and every write. The SDK changes a
pooled connection's session in one place only, the vector store's per-search ``SET`` of search
settings that differ from the session defaults, and it never takes a session-level advisory lock,
listens, or keeps a cursor past its transaction. So :class:`SessionConnection` (the pool's
connection class, see :meth:`~.database.PostgresDatabase.connect`) sends the reset only after
:func:`session_changed` marked it; asyncpg still rolls back a transaction left open and drops
listeners on every release, as before. Mark *before* changing the session, so a statement that
fails or is cancelled half way still leaves a connection that is reset.

A pool opened by an application (``PostgresDatabase(pool)``) keeps asyncpg's own connections,
which reset on every release: :func:`session_changed` does nothing for them.
"""

from __future__ import annotations

from typing import Any

import asyncpg

__all__ = ["SessionConnection", "session_changed"]


class SessionConnection(asyncpg.Connection):  # type: ignore[misc]
    """An asyncpg connection whose pool reset runs only once :meth:`mark_session_changed` was called."""

    __slots__ = ("_session_changed",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._session_changed = False

    def mark_session_changed(self) -> None:
        """The session will be changed (a ``SET``): reset it when the connection goes back."""
        self._session_changed = True

    @property
    def session_changed(self) -> bool:
        """Whether the next release resets the session."""
        return self._session_changed

    def get_reset_query(self) -> str:
        """asyncpg's reset query after a change of the session, else none (no round trip)."""
        if not self._session_changed:
            return ""
        self._session_changed = False
        return str(super().get_reset_query())


def session_changed(conn: Any) -> None:
    """Mark ``conn`` (a pooled connection or its proxy) for a reset on release, where it can be."""
    mark = getattr(conn, "mark_session_changed", None)
    if mark is not None:
        mark()
