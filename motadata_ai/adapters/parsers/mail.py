"""E-mail: ``.eml`` through the standard library's ``email`` and Outlook ``.msg`` through extract-msg.

The message is one document (a short ``Subject/From/To/Date`` block, then the plain-text body,
or the HTML body converted to Markdown), with ``subject``, ``from``, ``to``, ``date`` (ISO 8601)
and ``message_id`` as metadata. Each attachment of a supported type is its own document
(``<file>#attachment=<n>/<name>``) with the message's metadata and ``attachment_of``; an
attachment that cannot be parsed, or is of another type, is named in the message's
``skipped_attachments`` instead of failing the message.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from motadata_ai.adapters.parsers.extras import DOCS_EXTRA, require
from motadata_ai.adapters.parsers.formats import extract, kind_of
from motadata_ai.adapters.parsers.source import ParsedFile
from motadata_ai.domain.values.documents import Document
from motadata_ai.ports.documents import DocumentRejected, EmptyDocument, UndecodableDocument

MAX_ATTACHMENT_DEPTH = 2


@dataclass
class _Message:
    subject: str = ""
    sender: str = ""
    to: str = ""
    date: str = ""
    message_id: str = ""
    body: str = ""
    body_format: str = "text"
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if not value:
        return ""
    try:
        return email.utils.parsedate_to_datetime(str(value)).isoformat()
    except (TypeError, ValueError, IndexError):
        return str(value)


def _documents(file: ParsedFile, message: _Message) -> list[Document]:
    from motadata_ai.adapters.parsers.html import html_to_markdown

    body = message.body
    if message.body_format == "html":
        body, _ = html_to_markdown(body)
    header = "\n".join(
        f"{name}: {value}"
        for name, value in (
            ("Subject", message.subject),
            ("From", message.sender),
            ("To", message.to),
            ("Date", message.date),
        )
        if value
    )
    mail_metadata = {
        "subject": message.subject,
        "from": message.sender,
        "to": message.to,
        "date": message.date,
        "message_id": message.message_id,
    }
    skipped = list(message.skipped)
    attachments: list[Document] = []
    for number, (name, data) in enumerate(message.attachments, start=1):
        kind = kind_of(name)
        if kind is None:
            skipped.append(f"{name} (unsupported type)")
            continue
        if file.depth + 1 > MAX_ATTACHMENT_DEPTH:
            skipped.append(f"{name} (nested too deeply)")
            continue
        part = ParsedFile(
            id=file.document_id(f"attachment={number}/{name}"),
            name=name,
            kind=kind,
            data=data,
            budget=file.budget,
            options=file.options,
            user_id=file.user_id,
            metadata={**file.metadata, **mail_metadata, "attachment_of": file.id},
            depth=file.depth + 1,
        )
        try:
            attachments.extend(extract(part))
        except DocumentRejected as error:
            if file.budget.exhausted:
                raise
            skipped.append(f"{name} ({type(error).__name__}: {error})")
    text = file.budget.add("\n\n".join(part for part in (header, body.strip()) if part))
    if not body.strip() and not attachments:
        raise EmptyDocument(
            f"{file.id}: the message has no body and no attachment", source=file.id, field="text"
        )
    metadata = {
        **mail_metadata,
        "attachments": ", ".join(name for name, _ in message.attachments),
        "skipped_attachments": "; ".join(skipped),
    }
    document = file.document(
        text,
        title=message.subject,
        format="markdown" if message.body_format == "html" else "text",
        metadata=metadata,
    )
    return [document, *attachments]


# -- .eml -----------------------------------------------------------------------------------------


def _content(part: Any) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
    return content if isinstance(content, str) else ""


def _attachment(part: Any, number: int) -> tuple[str, bytes]:
    name = part.get_filename() or f"attachment-{number}"
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload(0) if part.is_multipart() else part.get_content()
        return (name if "." in name else f"{name}.eml"), bytes(inner.as_bytes())
    payload = part.get_payload(decode=True)
    return name, payload if isinstance(payload, bytes) else b""


def parse_eml(file: ParsedFile) -> list[Document]:
    """An ``.eml`` message: the message and each supported attachment (see the module doc)."""
    if b"\x00" in file.data:
        raise UndecodableDocument(
            f"{file.id}: the file holds NUL bytes; not an e-mail message", source=file.id, field="content"
        )
    parsed = email.message_from_bytes(file.data, policy=email.policy.default)
    if not any(parsed.get(name) for name in ("From", "To", "Subject", "Date", "Message-ID")):
        raise UndecodableDocument(
            f"{file.id}: not an e-mail message (no From, To, Subject, Date or Message-ID header)",
            source=file.id,
            field="content",
        )
    message = _Message(
        subject=" ".join(str(parsed.get("Subject", "")).split()),
        sender=str(parsed.get("From", "")),
        to=str(parsed.get("To", "")),
        date=_iso(parsed.get("Date")),
        message_id=str(parsed.get("Message-ID", "")).strip(),
    )
    body = parsed.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    if body is not None:
        message.body = _content(body)
        message.body_format = "html" if body.get_content_type() == "text/html" else "text"
    if parsed.is_multipart():
        for number, part in enumerate(parsed.iter_attachments(), start=1):  # type: ignore[attr-defined]
            file.budget.check()
            message.attachments.append(_attachment(part, number))
    return _documents(file, message)


# -- .msg -----------------------------------------------------------------------------------------


def parse_msg(file: ParsedFile) -> list[Document]:
    """An Outlook ``.msg`` message (extract-msg): the message and each supported attachment."""
    extract_msg = require("extract_msg", package="extract-msg", extra=DOCS_EXTRA, source=file.id)
    try:
        opened = extract_msg.openMsg(file.data)
    except Exception as error:  # extract-msg and olefile raise many types on a damaged file
        raise UndecodableDocument(
            f"{file.id}: cannot read the Outlook message ({type(error).__name__}: {error})",
            source=file.id,
            field="content",
        ) from error
    try:
        message = _Message(
            subject=" ".join(str(getattr(opened, "subject", "") or "").split()),
            sender=str(getattr(opened, "sender", "") or ""),
            to=str(getattr(opened, "to", "") or ""),
            date=_iso(getattr(opened, "date", None)),
            message_id=str(getattr(opened, "messageId", "") or ""),
        )
        body = getattr(opened, "body", None) or ""
        if not str(body).strip() and getattr(opened, "htmlBody", None):
            html = opened.htmlBody
            message.body = html.decode("utf-8", errors="replace") if isinstance(html, bytes) else str(html)
            message.body_format = "html"
        else:
            message.body = str(body)
        for number, attachment in enumerate(getattr(opened, "attachments", []) or [], start=1):
            file.budget.check()
            name = (
                getattr(attachment, "longFilename", None)
                or getattr(attachment, "shortFilename", None)
                or f"attachment-{number}"
            )
            data = getattr(attachment, "data", None)
            if isinstance(data, bytes):
                message.attachments.append((str(name), data))
            else:
                message.skipped.append(f"{name} (embedded item)")
    except DocumentRejected:
        raise
    except Exception as error:  # a damaged property stream surfaces while reading fields
        raise UndecodableDocument(
            f"{file.id}: cannot read the Outlook message ({type(error).__name__}: {error})",
            source=file.id,
            field="content",
        ) from error
    finally:
        opened.close()
    return _documents(file, message)
