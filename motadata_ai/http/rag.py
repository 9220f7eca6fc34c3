"""``POST /v1/rag/ingest`` (JSON documents or a multipart upload) and ``POST /v1/rag/query``.

An uploaded file is parsed by the SDK's document parser (every format RAG reads) and stored under
the id ``upload/<file name>`` (rows of a table: ``upload/<file name>#...``), so uploading the same
file again makes a new version of the same document, or nothing when it did not change.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from motadata_ai.domain.values.documents import Document, IngestReport, RAGResponse
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.http.auth import Caller
from motadata_ai.http.errors import ERROR_RESPONSES
from motadata_ai.http.routing import SDKErrorRoute

__all__ = ["IngestRequest", "RagQueryRequest", "create_rag_router"]

_NAME_SAFE = str.maketrans({c: "_" for c in "/\\\x00:"})


class DocumentIn(BaseModel):
    """A document given as text."""

    id: str = Field(min_length=1, max_length=512, description="Stable id across versions")
    text: str = Field(min_length=1)
    title: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class IngestRequest(BaseModel):
    """Documents to ingest as JSON."""

    documents: list[DocumentIn] = Field(min_length=1, max_length=1000)


class RagQueryRequest(BaseModel):
    """A question to the tenant's knowledge."""

    query: str = Field(min_length=1, max_length=8000)
    top_k: int | None = Field(None, ge=1, le=100)
    mode: Literal["dense", "keyword", "hybrid"] = "hybrid"
    conversation_id: str | None = None
    user_id: str | None = Field(None, description="Ignored when the API key names a user")


_INGEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/IngestRequest"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                    "required": ["file"],
                }
            },
        },
    }
}


def create_rag_router(target: Any, caller: Callable[..., Awaitable[Caller]]) -> APIRouter:
    """The RAG routes over ``target.rag(tenant)`` (and ``target.port("parser")`` for uploads)."""
    router = APIRouter(prefix="/v1/rag", tags=["rag"], route_class=SDKErrorRoute)

    async def uploaded(request: Request, user_id: str | None) -> list[Document]:
        form = await request.form()
        files = [item for key, item in form.multi_items() if key == "file" and not isinstance(item, str)]
        if not files:
            raise ValidationError("the multipart body holds no 'file' part", field="file")
        parser = target.port("parser")
        limit = int(target.settings.rag.max_document_bytes)
        documents: list[Document] = []
        with tempfile.TemporaryDirectory(prefix="motadata-upload-") as folder:
            for item in files:
                name = (Path(item.filename or "upload.txt").name or "upload.txt").translate(_NAME_SAFE)
                path = Path(folder) / name
                await asyncio.to_thread(path.write_bytes, await item.read(limit + 1))
                for parsed in await parser.parse(str(path), max_bytes=limit, user_id=user_id):
                    suffix = parsed.id[len(str(path)) :] if parsed.id.startswith(str(path)) else ""
                    documents.append(
                        parsed.model_copy(update={"id": f"upload/{name}{suffix}", "source": name})
                    )
        return documents

    @router.post(
        "/ingest",
        operation_id="ragIngest",
        summary="Ingest documents (JSON) or files (multipart/form-data, field 'file')",
        response_model=IngestReport,
        responses=ERROR_RESPONSES,
        openapi_extra=_INGEST_BODY,
    )
    async def ingest(request: Request, who: Caller = Depends(caller)) -> IngestReport:
        await who.admit()
        user_id = who.user(None)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            documents = await uploaded(request, user_id)
        else:
            try:
                body = IngestRequest.model_validate(orjson.loads(await request.body()))
            except orjson.JSONDecodeError as error:
                raise ValidationError(f"the body is not valid JSON: {error}", field="body") from error
            except ValueError as error:
                raise ValidationError(f"the ingest body is invalid: {error}", field="documents") from error
            documents = [
                Document(id=d.id, text=d.text, title=d.title, metadata=d.metadata, user_id=user_id)
                for d in body.documents
            ]
        report: IngestReport = await target.rag(who.tenant_id).ingest(documents, user_id=user_id)
        await who.charge(report.cost_usd)
        return report

    @router.post(
        "/query",
        operation_id="ragQuery",
        summary="Answer from the tenant's knowledge with cited sources",
        response_model=RAGResponse,
        responses=ERROR_RESPONSES,
    )
    async def query(body: RagQueryRequest, who: Caller = Depends(caller)) -> RAGResponse:
        await who.admit()
        answer: RAGResponse = await target.rag(who.tenant_id).query(
            body.query,
            top_k=body.top_k,
            mode=body.mode,
            conversation_id=body.conversation_id,
            user_id=who.user(body.user_id),
        )
        await who.charge(answer.cost_usd)
        return answer

    return router
