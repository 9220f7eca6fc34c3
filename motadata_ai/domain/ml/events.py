"""The ML framework's lifecycle events (``ml.training_finished``, ``ml.version_promoted``, ...)."""

from __future__ import annotations

import json
import logging
from typing import Any

from motadata_ai.domain.bus.subjects import event_subject
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.errors import MotadataError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.bus import BusPort

logger = logging.getLogger(__name__)


class MLEvents:
    """Publishes a tenant's ML events on the bus (none without a bus); a failed publish is logged."""

    def __init__(self, tenant: TenantContext, bus: BusPort | None) -> None:
        self.tenant = tenant
        self.bus = bus

    async def publish(self, event: str, payload: dict[str, Any]) -> None:
        """Publish ``ml.<event>`` with a JSON-safe copy of ``payload``."""
        if self.bus is None:
            return
        tenant_id = self.tenant.tenant_id
        envelope = Envelope(
            tenant_id=tenant_id, type=f"ml.{event}", payload=json.loads(json.dumps(payload, default=str))
        )
        try:
            await self.bus.publish(event_subject(self.tenant, "ml", event), envelope)
        except MotadataError:  # the event is a notification; the change it reports has happened
            logger.warning("could not publish ml.%s for tenant %s", event, tenant_id, exc_info=True)
