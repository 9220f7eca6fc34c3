"""Structured agent output: the instructions asking for an ``output_type``'s JSON, and the
parse of the final answer into it (fenced JSON accepted, anything else refused)."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from motadata_ai.domain.gateway.errors import GuardrailViolation
from motadata_ai.domain.values.agents import AgentTask

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def output_instructions(output_type: type[BaseModel]) -> str:
    """The system-prompt paragraph asking for the final answer as ``output_type``'s JSON."""
    schema = json.dumps(output_type.model_json_schema(), separators=(",", ":"))
    return (
        "When you give the final answer, reply with only one JSON object (no other text) "
        f"that matches this JSON schema:\n{schema}"
    )


def parse_output(task: AgentTask, output_type: type[BaseModel], model: str) -> BaseModel:
    """``task.answer`` as an ``output_type`` instance; :class:`GuardrailViolation` (stage
    ``output``) naming what does not match when it is not one."""
    text = (task.answer or "").strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return output_type.model_validate_json(text)
    except PydanticValidationError as error:
        reasons = [f"{'.'.join(str(p) for p in e['loc']) or '$'}: {e['msg']}" for e in error.errors()][:10]
        raise GuardrailViolation(
            f"the agent's answer is not a {output_type.__name__}: " + "; ".join(reasons),
            field="output_type",
            model=model,
            stage="output",
            reasons=reasons,
        ) from error
