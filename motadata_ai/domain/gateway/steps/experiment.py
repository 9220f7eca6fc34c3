"""Experiment step: put a chat call in an A/B experiment's arm and give it that arm's model or prompt.

The first step of the chain (the rest sees the arm's model and messages, so the cache, the
limits and the ledger count what was really sent). For each enabled experiment of the tenant's
policy, in order, the first that the call takes part in decides: a model experiment takes the
calls to its champion model, a prompt experiment the calls that name its template with
``prompt=PromptRef(...)`` and no pinned version. :func:`arm_of` picks the arm; the call's
state records ``experiment`` and ``arm`` for its usage record. A ``prompt`` outside any experiment
is rendered at its version (default: the latest). Embeddings pass through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.experiments import Experiment, PromptRef, arm_of
from motadata_ai.domain.gateway.steps.base import NextComplete, NextStream, Step
from motadata_ai.domain.prompts.templates import PromptRegistry
from motadata_ai.domain.values import llm
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError

__all__ = ["ExperimentStep"]


class ExperimentStep(Step):
    """Assigns A/B arms and renders named prompts (see the module docstring)."""

    def __init__(self, prompts: PromptRegistry | None = None) -> None:
        self.prompts = prompts

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """Assign the arm, then complete with its model or prompt."""
        return await next(call, self._assigned(call, request))

    def stream(
        self, call: Call, request: llm.ChatRequest, next: NextStream
    ) -> AsyncIterator[llm.StreamChunk]:
        """Assign the arm, then stream with its model or prompt."""
        return next(call, self._assigned(call, request))

    def _assigned(self, call: Call, request: llm.ChatRequest) -> llm.ChatRequest:
        prompt = call.options.prompt
        experiments = call.policy.experiments
        if not experiments and prompt is None:
            return request
        if prompt is not None and not isinstance(prompt, PromptRef):
            raise ValidationError("prompt must be a PromptRef", field="prompt")
        model = request.model or call.policy.default_model
        for experiment in experiments:
            if not self._takes_part(experiment, model, prompt):
                continue
            unit = call.user_id if experiment.split_by == "user" and call.user_id else call.origin.request_id
            arm = arm_of(experiment, unit)
            call.state.experiment, call.state.arm = experiment.name, arm
            if experiment.kind == "model":
                if arm == "challenger":
                    request = request.model_copy(update={"model": experiment.challenger_model})
                break
            assert prompt is not None
            version = experiment.champion_version if arm == "champion" else experiment.challenger_version
            return self._with_prompt(request, prompt, version)
        if prompt is not None:
            return self._with_prompt(request, prompt, prompt.version)
        return request

    @staticmethod
    def _takes_part(experiment: Experiment, model: str, prompt: PromptRef | None) -> bool:
        if not experiment.enabled:
            return False
        if experiment.kind == "model":
            return model == experiment.champion_model
        return prompt is not None and prompt.version is None and prompt.template == experiment.template

    def _with_prompt(
        self, request: llm.ChatRequest, prompt: PromptRef, version: int | None
    ) -> llm.ChatRequest:
        if self.prompts is None:
            raise ConfigurationError(
                f"the call names prompt template {prompt.template!r} but the gateway has no prompt registry",
                field="prompt",
                template=prompt.template,
            )
        text = self.prompts.get(prompt.template, version).render(dict(prompt.variables))
        system = llm.Message(role="system", content=text)
        messages = request.messages
        if messages and messages[0].role == "system":
            messages = (system, *messages[1:])
        else:
            messages = (system, *messages)
        return request.model_copy(update={"messages": messages})
