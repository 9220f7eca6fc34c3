"""Exit codes of the command line, and each failure reported in one line on standard error.

=====  ==========================================================================================
code   meaning
=====  ==========================================================================================
0      success
1      runtime failure: a provider, store or bus failed (``ServiceError``), or some files of an
       ingest failed (the others are ingested)
2      usage: a bad command line, or an input the SDK refuses (``ValidationError``, ``NotFound``)
3      configuration: a bad ``MOTADATA_*`` setting or ``ConfigurationError``
4      ``ask`` found no answer in the knowledge base (``"answered": false`` with ``--json``)
130    interrupted (Ctrl-C)
=====  ==========================================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIGURATION = 3
EXIT_NOT_ANSWERED = 4
EXIT_INTERRUPTED = 130


def one_line(text: str) -> str:
    """``text`` on one line (newlines folded)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def exit_code_of(error: BaseException) -> int:
    """The exit code for an SDK error (a bad setting is a ``ConfigurationError``)."""
    from motadata_ai.domain.values.errors import ConfigurationError, UsageError

    if isinstance(error, ConfigurationError):
        return EXIT_CONFIGURATION
    if isinstance(error, UsageError):
        return EXIT_USAGE
    return EXIT_FAILURE


def describe(error: BaseException) -> str:
    """The one line printed for ``error`` (after ``error: ``)."""
    return one_line(str(error)) or type(error).__name__
