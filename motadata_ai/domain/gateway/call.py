"""The call context: the one value that travels down the gateway's chain of steps.

A :class:`Call` says who calls (tenant, user), what (``chat``, ``stream`` or ``embed``, the model
and its fallbacks, the per-call options), under which effective policy, and why (the
:class:`~motadata_ai.domain.values.calls.CallOrigin`: the user request it belongs to and its
purpose). It is never changed once made: a step that changes something passes a new one down
(:func:`dataclasses.replace`). It is not a frozen dataclass only because every call builds two
(at admission and after validation), and a frozen dataclass's constructor costs several times a
plain one's (each field is set through ``object.__setattr__``). What the inner steps learn on
the way back (the attempts made, where the answer came from, a stream's assembled answer) lives
in its one mutable part, :class:`CallState`, which the outer steps (rate limit, ledger,
telemetry) read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.experiments import PromptRef
from motadata_ai.domain.guardrails import ResponseSchema
from motadata_ai.domain.values.calls import CallOrigin, Purpose
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import ChatResponse
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.usage import Arm, Source

__all__ = [
    "Call",
    "CallKeywords",
    "CallKind",
    "CallOptions",
    "CallState",
    "EmbedKeywords",
    "GenerateKeywords",
    "StreamKeywords",
    "provider_of",
]

CallKind = Literal["chat", "stream", "embed"]


def provider_of(model: str) -> str:
    """The provider prefix of ``provider/model`` ('' when there is none)."""
    return model.split("/", 1)[0] if "/" in model else ""


class CallKeywords(TypedDict, total=False):
    """The per-call keywords every gateway call takes (each overrides the tenant's policy).

    ``user_id``; ``no_cache`` skips the cache (lookup and store); ``ttl`` sets this entry's
    lifetime; ``fallbacks`` replaces the fallback models; ``max_retries``; ``timeout`` (seconds
    per attempt); ``wait`` queues a rate-limited call instead of raising; ``purpose`` says why
    the call is made and ``origin`` names the request it is made for (by default the request
    opened with ``gateway.request``, if any).
    """

    user_id: str | None
    no_cache: bool
    ttl: float | None
    fallbacks: Sequence[str] | None
    max_retries: int | None
    timeout: float | None
    wait: bool | None
    purpose: Purpose | None
    origin: CallOrigin | None


class StreamKeywords(CallKeywords, total=False):
    """A completion's keywords: also ``validation_level`` (the guardrail level of this call) and
    ``cache_per_user`` (the answer is cached for the calling user only: the user is part of the
    cache key, so another user of the tenant never gets it from the cache) and ``prompt`` (a
    registered template rendered as the system message; see :class:`PromptRef`)."""

    validation_level: str | None
    cache_per_user: bool
    prompt: PromptRef | None


class GenerateKeywords(StreamKeywords, total=False):
    """``generate``'s keywords: also ``response_schema`` (JSON schema or pydantic model class)."""

    response_schema: ResponseSchema | None


class EmbedKeywords(CallKeywords, total=False):
    """``embed``'s keywords: also ``model`` (default: the configured embedding model)."""

    model: str | None


@dataclass(frozen=True, slots=True)
class CallOptions:
    """The per-call options of ``generate``/``stream``/``embed`` (``None``: the policy decides)."""

    no_cache: bool = False
    ttl: float | None = None
    response_schema: ResponseSchema | None = None
    fallbacks: tuple[str, ...] | None = None
    max_retries: int | None = None
    validation_level: str | None = None
    timeout: float | None = None
    wait: bool | None = None
    cache_per_user: bool = False
    prompt: PromptRef | None = None

    @classmethod
    def of(cls, kind: CallKind, keywords: Mapping[str, Any]) -> CallOptions:
        """The options named in the keywords of a ``kind`` call; :class:`ValidationError` for a
        keyword that kind of call does not take. An embedding call has no fallbacks by default."""
        unknown = keywords.keys() - _KEYWORDS[kind]
        if unknown:
            name = sorted(unknown)[0]
            raise ValidationError(f"unknown option {name!r} for a gateway {kind} call", field=name)
        if not keywords.keys() & _OPTION_NAMES:
            return _NO_OPTIONS[kind]  # the common call: nothing to override (shared: it is frozen)
        get = keywords.get
        fallbacks = get("fallbacks")
        if fallbacks is not None or kind == "embed":
            fallbacks = tuple(fallbacks or ())
        return cls(
            no_cache=bool(get("no_cache", False)),
            ttl=get("ttl"),
            response_schema=get("response_schema"),
            fallbacks=fallbacks,
            max_retries=get("max_retries"),
            validation_level=get("validation_level"),
            timeout=get("timeout"),
            wait=get("wait"),
            cache_per_user=bool(get("cache_per_user", False)),
            prompt=get("prompt"),
        )


_KEYWORDS: dict[CallKind, frozenset[str]] = {  # each with the keywords it inherits
    "chat": frozenset(GenerateKeywords.__annotations__),
    "stream": frozenset(StreamKeywords.__annotations__),
    "embed": frozenset(EmbedKeywords.__annotations__),
}
_OPTION_NAMES = frozenset(CallOptions.__dataclass_fields__)
_NO_OPTIONS: dict[CallKind, CallOptions] = {
    "chat": CallOptions(),
    "stream": CallOptions(),
    "embed": CallOptions(fallbacks=()),
}


@dataclass(slots=True)
class CallState:
    """What the inner steps report back: attempts, the answer's source and model, a stream's answer
    (``response`` once it ended; ``produced`` prices what a running stream delivered so far;
    ``streams``: weak references to the steps' open streams, closed innermost first on a cut), and
    the experiment and arm the call was assigned to (if any)."""

    attempts: list[dict[str, Any]] = field(default_factory=list)
    source: Source = "provider"
    model: str = ""
    prompt_tokens: int | None = None
    response: ChatResponse | None = None
    produced: Callable[[], ChatResponse] | None = None
    streams: list[Any] = field(default_factory=list)
    span: Any = None
    experiment: str | None = None
    arm: Arm | None = None

    @property
    def provider_attempts(self) -> int:
        """Provider calls made (breaker refusals and blocked answers are not calls)."""
        return sum(1 for a in self.attempts if "attempt" in a and a.get("error") != "CircuitOpen")


@dataclass(slots=True, eq=False)
class Call:
    """One gateway call on its way down the chain (see the module docstring).

    ``internal`` is true for a call made on behalf of a request the gateway has already admitted
    (and counted); ``key`` is the tenant-scoped cache and de-duplication key ('' when neither
    applies); ``level`` is the effective guardrail level.
    """

    tenant: TenantContext
    kind: CallKind
    policy: GatewayConfig
    origin: CallOrigin
    purpose: Purpose
    internal: bool
    started: float
    options: CallOptions = CallOptions()
    model: str = ""
    level: str = "medium"
    key: str = ""
    use_cache: bool = False
    state: CallState = field(default_factory=CallState)

    def completed(self, *, model: str, level: str, key: str, use_cache: bool, options: CallOptions) -> Call:
        """This call with what validation decided (built directly: this runs on every call)."""
        return Call(
            self.tenant,
            self.kind,
            self.policy,
            self.origin,
            self.purpose,
            self.internal,
            self.started,
            options,
            model,
            level,
            key,
            use_cache,
            self.state,
        )

    @property
    def tenant_id(self) -> str:
        """The calling tenant's id."""
        return self.tenant.tenant_id

    @property
    def user_id(self) -> str | None:
        """The calling user, when known."""
        return self.tenant.user_id

    @property
    def cache_user(self) -> str | None:
        """The user the cache key is scoped to (``cache_per_user`` calls with a user), else ``None``."""
        return self.tenant.user_id if self.options.cache_per_user else None

    @property
    def timeout(self) -> float | None:
        """Seconds one attempt may take: the call's ``timeout`` or the policy's ``request_timeout``."""
        return self.options.timeout or self.policy.request_timeout

    @property
    def models(self) -> list[str]:
        """The model, then its fallbacks (the call's list, else the policy's), without repeats."""
        chain = [self.model]
        fallbacks = self.options.fallbacks
        for name in fallbacks if fallbacks is not None else self.policy.fallback_models:
            if name not in chain:
                chain.append(name)
        return chain

    @property
    def ledger_operation(self) -> Literal["chat", "embeddings"]:
        """How the ledger and telemetry name the operation."""
        return "embeddings" if self.kind == "embed" else "chat"
