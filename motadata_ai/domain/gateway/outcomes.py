"""What one provider attempt tells a model's circuit breaker.

A model's circuit is shared by every tenant, so only evidence about the *provider* may move it:

============================================  ==========  =========================================
outcome of the attempt                        verdict     effect on the circuit
============================================  ==========  =========================================
an answer                                     ``healthy`` closes it (when it had failures)
a 4xx answer (bad request, auth, unknown      ``healthy`` the provider answered: closes it too
model, context window)
5xx, connection refused, DNS                  ``failure`` counts toward opening it
a timeout at the provider's own deadline      ``failure`` counts toward opening it
(``request_timeout``)
a timeout at the caller's tighter deadline    ``caller``  nothing: it says how patient the caller
(``timeout=`` below ``request_timeout``)                  was, not how healthy the provider is
429 from the provider                         ``caller``  nothing (retried with backoff instead)
cancellation, any non-provider error          ``caller``  nothing
============================================  ==========  =========================================

So one tenant's ``timeout=0.05`` against a model that answers in 0.3 s never opens the circuit
that every other tenant goes through.
"""

from __future__ import annotations

from typing import Literal

from motadata_ai.ports.llm import (
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
)

__all__ = ["BreakerVerdict", "breaker_verdict", "is_caller_deadline"]

BreakerVerdict = Literal["healthy", "failure", "caller"]


def is_caller_deadline(timeout: float | None, request_timeout: float | None) -> bool:
    """Whether a per-call ``timeout`` is tighter than the provider's own deadline
    (``request_timeout``; ``None``: the adapter's default, so any per-call timeout is tighter)."""
    if timeout is None:
        return False
    return request_timeout is None or timeout < request_timeout


def breaker_verdict(error: BaseException | None, *, caller_deadline: bool = False) -> BreakerVerdict:
    """The verdict of one attempt for the model's circuit (see the module's table).

    ``error`` is what the attempt raised (``None`` for an answer); ``caller_deadline`` says the
    attempt ran under the caller's tighter timeout, so a :class:`ProviderTimeout` is the caller's.
    """
    if error is None or isinstance(error, ProviderBadRequest):
        return "healthy"
    if isinstance(error, ProviderTimeout):
        return "caller" if caller_deadline else "failure"
    if isinstance(error, ProviderRateLimited):
        return "caller"
    if isinstance(error, ProviderError):
        return "failure"
    return "caller"
