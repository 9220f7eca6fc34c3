"""Every error the SDK raises, in one tree (``from motadata_ai.errors import ...``; each is also
exported from ``motadata_ai``).

Each error is either a **developer mistake** (:class:`UsageError`: fix the call, the input or the
configuration; retrying the same call never helps) or a **runtime failure** (:class:`ServiceError`:
something outside the caller's control failed; retrying later may help), never both. Every error
carries structured fields declared on its class (``tenant_id``, ``model``, ``retry_after`` ...),
so code branches on data rather than on messages. The HTTP edge maps them by branch, in the
OpenAI error shape (:mod:`motadata_ai.http.errors`): ``InvalidAPIKey`` 401, ``TenantMismatch``
403, ``NotFound`` and ``UnknownModel`` 404, ``ValidationError`` 422,
``RateLimited``/``ProviderRateLimited``/``BudgetExceeded`` 429 (with ``Retry-After``), other
``ProviderBadRequest`` (the provider refused the server's request: its key) 502, other
``ServiceError`` 503, other ``UsageError`` (configuration) 500.

::

    MotadataError
    ├── UsageError                      developer mistake
    │   ├── ConsentRequired             the user has not granted consent to ``purpose``
    │   ├── ConfigurationError          settings, unknown plugin/provider/estimator, bad tool or schema
    │   │   ├── EncryptionKeyError  a wrapping key is missing or wrong (``key_id``)
    │   │   │   └── DecryptionFailed  encrypted data does not open with its key
    │   │   ├── InvalidResponseSchema
    │   │   ├── MiniLMUnavailable       the local embedding model's package is missing
    │   │   ├── ToolDefinitionError
    │   │   └── UnknownEstimator
    │   ├── InvalidAPIKey               the HTTP gateway's API key is missing, malformed, unknown or revoked
    │   ├── NotFound                    the named object does not exist for the tenant
    │   │   ├── ArtifactNotFound
    │   │   ├── DocumentNotFound
    │   │   ├── KnowledgeBaseEmpty
    │   │   ├── ModelNotFound
    │   │   │   ├── AliasNotFound
    │   │   │   └── VersionNotFound
    │   │   ├── RunNotFound
    │   │   ├── TaskNotFound
    │   │   │   └── TaskAlreadyResumed
    │   │   └── TemplateNotFound
    │   ├── TenantMismatch              an API key of one tenant asked for another tenant's data
    │   └── ValidationError             bad input, named by ``field`` (also a ``ValueError``)
    │       ├── ContextWindowTooSmall
    │       ├── DatasetInvalid
    │       │   ├── EmptyDataset
    │       │   ├── ExtraColumns
    │       │   ├── MissingColumns
    │       │   ├── SingleClassTarget
    │       │   ├── TooManyMissing
    │       │   └── WrongType
    │       ├── ArtifactKeyInvalid      a malformed artifact key, or a path that leaves the root
    │       ├── DimensionMismatch       a vector's length is not the store's ``dimensions``
    │       ├── DocumentRejected
    │       │   ├── DocumentParseTimeout  parsing one file overran its time limit
    │       │   ├── DocumentTooLarge
    │       │   ├── EmptyDocument
    │       │   ├── UndecodableDocument
    │       │   ├── UnsafeDocumentPath  a FIFO, socket or symlink leaving the folder
    │       │   └── UnsupportedDocumentType
    │       │       └── ParserExtraMissing  the format's optional extra is not installed
    │       ├── GuardrailViolation      stage, level, reasons
    │       ├── InvalidSubject
    │       ├── InvalidTenant
    │       ├── InvalidToolArguments  a model's tool arguments (told back to it)
    │       ├── KeywordArgumentsRequired  positional arguments to a keywords-only call (also a TypeError)
    │       ├── MalformedMessage
    │       ├── SignatureViolation
    │       └── TemplateError
    │           ├── MissingTemplateVariable
    │           └── UnsafeTemplate
    └── ServiceError                    runtime failure
        ├── AgentError                  a run stopped; ``task`` is the partial task
        │   ├── AgentLimitExceeded
        │   │   ├── AgentTimeout
        │   │   ├── MaxIterationsExceeded
        │   │   └── TaskBudgetExceeded  (also a BudgetExceeded)
        │   ├── DelegationFailed
        │   └── ToolRetriesExceeded
        ├── ErasureIncomplete           erasing a user stopped at ``store``: run it again
        ├── ArtifactRefused             the artifact must not be loaded
        │   ├── ArtifactTampered
        │   └── UnsafeArtifact
        ├── BudgetExceeded              the one budget error: gateway (period, spent_usd, budget_usd, budget)
        │                               and agents (TaskBudgetExceeded: spent_tokens, spent_cost_usd)
        ├── CircuitOpen                 model, tried, retry_after
        ├── ProviderError               model, provider, status_code, address
        │   ├── ProviderBadRequest      the provider refused the request (4xx but 429)
        │   │   ├── ContextWindowExceeded
        │   │   ├── ProviderAuthError   the provider refused the credentials: fix the key
        │   │   └── UnknownModel
        │   ├── ProviderRateLimited     retry_after
        │   ├── ProviderTimeout
        │   ├── ProviderUnavailable
        │   │   └── ProviderInvalidResponse  a 2xx answer with no usable completion
        │   └── RetriesExhausted        attempts
        ├── RateLimited                 scope, retry_after
        ├── RerankerError
        ├── TrainingFailed
        ├── BusError
        │   ├── BusTimeout
        │   └── BusUnavailable
        ├── PostgresError
        ├── StoreUnavailable            address (credentials masked)
        │   ├── EmbeddedPostgresError
        │   └── PostgresUnavailable
        └── <store>Error                one per store, each with its <store>Unavailable *
            ├── ArtifactStoreError      → ArtifactStoreUnavailable *
            ├── CacheError              → CacheUnavailable * → CacheBypassed (the cache's circuit is open)
            ├── ConsentStoreError       → ConsentStoreUnavailable *
            ├── DataKeyStoreError       → DataKeyStoreUnavailable *
            ├── DocumentStoreError      → DocumentStoreUnavailable *, VersionConflict
            ├── ExperimentStoreError    → ExperimentStoreUnavailable *
            ├── KeyStoreError           → KeyStoreUnavailable *
            ├── LeaseError              → LeaseUnavailable *
            ├── LedgerError             → LedgerUnavailable *
            ├── LimitsError             → LimitsUnavailable *
            ├── MemoryStoreError        → MemoryStoreUnavailable *
            ├── PredictionLogError      → PredictionLogUnavailable *
            ├── RegistryError           → RegistryConflict, RegistryUnavailable *
            └── VectorStoreError        → VectorStoreUnavailable *

    * also a StoreUnavailable (both under ServiceError)

A test (``tests/unit/foundation/test_error_tree.py``) imports every module of the package and checks that
each error class has exactly one of the two roots and is exported here.
"""

from __future__ import annotations

from motadata_ai.adapters.local.minilm import (
    MiniLMUnavailable,
)
from motadata_ai.adapters.postgres.errors import (
    EmbeddedPostgresError,
    PostgresError,
    PostgresUnavailable,
)
from motadata_ai.domain.agents.tools import (
    InvalidToolArguments,
)
from motadata_ai.domain.bus.codec import (
    MalformedMessage,
)
from motadata_ai.domain.bus.subjects import (
    InvalidSubject,
)
from motadata_ai.domain.gateway.circuit_cache import (
    CacheBypassed,
)
from motadata_ai.domain.gateway.errors import (
    CircuitOpen,
    GuardrailViolation,
    RateLimited,
    RetriesExhausted,
)
from motadata_ai.domain.guardrails.schema import (
    InvalidResponseSchema,
)
from motadata_ai.domain.prompts.context import (
    ContextWindowTooSmall,
)
from motadata_ai.domain.prompts.templates import (
    MissingTemplateVariable,
    TemplateError,
    TemplateNotFound,
    UnsafeTemplate,
)
from motadata_ai.domain.retrieval.system import (
    KnowledgeBaseEmpty,
)
from motadata_ai.domain.values.agents import (
    AgentError,
    AgentLimitExceeded,
    AgentTimeout,
    DelegationFailed,
    MaxIterationsExceeded,
    TaskAlreadyResumed,
    TaskBudgetExceeded,
    TaskNotFound,
    ToolDefinitionError,
    ToolRetriesExceeded,
)
from motadata_ai.domain.values.api_keys import (
    InvalidAPIKey,
    TenantMismatch,
)
from motadata_ai.domain.values.consent import (
    ConsentRequired,
)
from motadata_ai.domain.values.errors import (
    BudgetExceeded,
    ConfigurationError,
    InvalidTenant,
    MotadataError,
    NotFound,
    ServiceError,
    StoreUnavailable,
    UsageError,
    ValidationError,
)
from motadata_ai.domain.values.keywords import (
    KeywordArgumentsRequired,
)
from motadata_ai.domain.values.ml import (
    DatasetInvalid,
    EmptyDataset,
    ExtraColumns,
    MissingColumns,
    SignatureViolation,
    SingleClassTarget,
    TooManyMissing,
    WrongType,
)
from motadata_ai.domain.values.privacy import (
    ErasureIncomplete,
)
from motadata_ai.ports.bus import (
    BusError,
    BusTimeout,
    BusUnavailable,
)
from motadata_ai.ports.cache import (
    CacheError,
    CacheUnavailable,
)
from motadata_ai.ports.consent import (
    ConsentStoreError,
    ConsentStoreUnavailable,
)
from motadata_ai.ports.documents import (
    DocumentNotFound,
    DocumentParseTimeout,
    DocumentRejected,
    DocumentStoreError,
    DocumentStoreUnavailable,
    DocumentTooLarge,
    EmptyDocument,
    ParserExtraMissing,
    UndecodableDocument,
    UnsafeDocumentPath,
    UnsupportedDocumentType,
    VersionConflict,
)
from motadata_ai.ports.encryption import (
    DataKeyStoreError,
    DataKeyStoreUnavailable,
    DecryptionFailed,
    EncryptionKeyError,
)
from motadata_ai.ports.keys import (
    KeyStoreError,
    KeyStoreUnavailable,
)
from motadata_ai.ports.leases import (
    LeaseError,
    LeaseUnavailable,
)
from motadata_ai.ports.ledger import (
    LedgerError,
    LedgerUnavailable,
)
from motadata_ai.ports.limits import (
    LimitsError,
    LimitsUnavailable,
)
from motadata_ai.ports.llm import (
    ContextWindowExceeded,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderInvalidResponse,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    UnknownModel,
)
from motadata_ai.ports.memory import (
    MemoryStoreError,
    MemoryStoreUnavailable,
)
from motadata_ai.ports.ml import (
    AliasNotFound,
    ArtifactKeyInvalid,
    ArtifactNotFound,
    ArtifactRefused,
    ArtifactStoreError,
    ArtifactStoreUnavailable,
    ArtifactTampered,
    ExperimentStoreError,
    ExperimentStoreUnavailable,
    ModelNotFound,
    PredictionLogError,
    PredictionLogUnavailable,
    RegistryConflict,
    RegistryError,
    RegistryUnavailable,
    RunNotFound,
    TrainingFailed,
    UnknownEstimator,
    UnsafeArtifact,
    VersionNotFound,
)
from motadata_ai.ports.text import (
    RerankerError,
)
from motadata_ai.ports.vector_store import (
    DimensionMismatch,
    VectorStoreError,
    VectorStoreUnavailable,
)

__all__ = [
    "AgentError",
    "AgentLimitExceeded",
    "AgentTimeout",
    "AliasNotFound",
    "ArtifactKeyInvalid",
    "ArtifactNotFound",
    "ArtifactRefused",
    "ArtifactStoreError",
    "ArtifactStoreUnavailable",
    "ArtifactTampered",
    "BudgetExceeded",
    "BusError",
    "BusTimeout",
    "BusUnavailable",
    "CacheBypassed",
    "CacheError",
    "CacheUnavailable",
    "CircuitOpen",
    "ConfigurationError",
    "ConsentRequired",
    "ConsentStoreError",
    "ConsentStoreUnavailable",
    "ContextWindowExceeded",
    "ContextWindowTooSmall",
    "DataKeyStoreError",
    "DataKeyStoreUnavailable",
    "DatasetInvalid",
    "DecryptionFailed",
    "DelegationFailed",
    "DimensionMismatch",
    "DocumentNotFound",
    "DocumentParseTimeout",
    "DocumentRejected",
    "DocumentStoreError",
    "DocumentStoreUnavailable",
    "DocumentTooLarge",
    "EmbeddedPostgresError",
    "EmptyDataset",
    "EmptyDocument",
    "EncryptionKeyError",
    "ErasureIncomplete",
    "ExperimentStoreError",
    "ExperimentStoreUnavailable",
    "ExtraColumns",
    "GuardrailViolation",
    "InvalidAPIKey",
    "InvalidResponseSchema",
    "InvalidSubject",
    "InvalidTenant",
    "InvalidToolArguments",
    "KeyStoreError",
    "KeyStoreUnavailable",
    "KeywordArgumentsRequired",
    "KnowledgeBaseEmpty",
    "LeaseError",
    "LeaseUnavailable",
    "LedgerError",
    "LedgerUnavailable",
    "LimitsError",
    "LimitsUnavailable",
    "MalformedMessage",
    "MaxIterationsExceeded",
    "MemoryStoreError",
    "MemoryStoreUnavailable",
    "MiniLMUnavailable",
    "MissingColumns",
    "MissingTemplateVariable",
    "ModelNotFound",
    "MotadataError",
    "NotFound",
    "ParserExtraMissing",
    "PostgresError",
    "PostgresUnavailable",
    "PredictionLogError",
    "PredictionLogUnavailable",
    "ProviderAuthError",
    "ProviderBadRequest",
    "ProviderError",
    "ProviderInvalidResponse",
    "ProviderRateLimited",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "RegistryConflict",
    "RegistryError",
    "RegistryUnavailable",
    "RerankerError",
    "RetriesExhausted",
    "RunNotFound",
    "ServiceError",
    "SignatureViolation",
    "SingleClassTarget",
    "StoreUnavailable",
    "TaskAlreadyResumed",
    "TaskBudgetExceeded",
    "TaskNotFound",
    "TemplateError",
    "TemplateNotFound",
    "TenantMismatch",
    "TooManyMissing",
    "ToolDefinitionError",
    "ToolRetriesExceeded",
    "TrainingFailed",
    "UndecodableDocument",
    "UnknownEstimator",
    "UnknownModel",
    "UnsafeArtifact",
    "UnsafeDocumentPath",
    "UnsafeTemplate",
    "UnsupportedDocumentType",
    "UsageError",
    "ValidationError",
    "VectorStoreError",
    "VectorStoreUnavailable",
    "VersionConflict",
    "VersionNotFound",
    "WrongType",
]
