"""Bus message rules shared by every bus adapter: the envelope codec and the subject helpers.

Pure: standard library and pydantic only.
"""

from motadata_ai.domain.bus.codec import MalformedMessage, Rejection, check_route, decode, encode
from motadata_ai.domain.bus.subjects import (
    NO_USER,
    USER_ROOTS,
    InvalidSubject,
    agent_pattern,
    agent_subject,
    event_subject,
    subject_matches,
    subjects_overlap,
    tenant_of,
    tenant_pattern,
    tenant_token,
    user_of,
    user_pattern,
    user_token,
    validate_subject,
)

__all__ = [
    "NO_USER",
    "USER_ROOTS",
    "InvalidSubject",
    "MalformedMessage",
    "Rejection",
    "agent_pattern",
    "agent_subject",
    "check_route",
    "decode",
    "encode",
    "event_subject",
    "subject_matches",
    "subjects_overlap",
    "tenant_of",
    "tenant_pattern",
    "tenant_token",
    "user_of",
    "user_pattern",
    "user_token",
    "validate_subject",
]
