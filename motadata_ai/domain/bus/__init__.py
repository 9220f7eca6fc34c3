"""Bus message rules shared by every bus adapter: the envelope codec and the subject helpers.

Pure: standard library and pydantic only.
"""

from motadata_ai.domain.bus.codec import MalformedMessage, Rejection, check_route, decode, encode
from motadata_ai.domain.bus.subjects import (
    InvalidSubject,
    agent_subject,
    event_subject,
    subject_matches,
    tenant_of,
    tenant_pattern,
    tenant_token,
    validate_subject,
)

__all__ = [
    "InvalidSubject",
    "MalformedMessage",
    "Rejection",
    "agent_subject",
    "check_route",
    "decode",
    "encode",
    "event_subject",
    "subject_matches",
    "tenant_of",
    "tenant_pattern",
    "tenant_token",
    "validate_subject",
]
