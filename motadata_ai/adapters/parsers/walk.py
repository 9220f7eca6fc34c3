"""The folder walk and the one safe way to read a file.

``list_entries`` names what a folder holds without opening anything. ``read_regular_file``
reads only a regular file whose resolved path lies inside the folder it was listed from: a
FIFO, socket or device is refused from ``lstat`` before any ``open`` (and the ``open`` itself is
non-blocking and does not follow a final symlink, in case the entry was swapped in between), a
symlink leading outside the folder is refused, and no more than ``max_bytes`` is ever read.
"""

from __future__ import annotations

import errno
import os
import stat

from motadata_ai.ports.documents import (
    DocumentNotFound,
    DocumentRejected,
    DocumentTooLarge,
    UnsafeDocumentPath,
)

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a directory",
    stat.S_IFLNK: "a symlink",
}


def list_entries(path: str) -> list[str]:
    """Absolute paths under ``path`` (or ``path`` itself when it is not a directory), sorted.

    Hidden names are left out. Symlinked directories are not descended into: one leading
    outside the folder is listed (so that reading it is refused and reported), one inside it is
    left out (its files are walked where they are).
    """
    absolute = os.path.abspath(path)
    if not os.path.lexists(absolute):
        raise DocumentNotFound(f"{path}: no such file or directory", source=path, field="path")
    if not os.path.isdir(absolute):
        return [absolute]
    root = os.path.realpath(absolute)
    found: list[str] = []
    for directory, subdirectories, files in os.walk(absolute, followlinks=False):
        kept = []
        for name in sorted(subdirectories):
            if name.startswith("."):
                continue
            entry = os.path.join(directory, name)
            if os.path.islink(entry):
                if not is_inside(os.path.realpath(entry), root):
                    found.append(entry)
                continue
            kept.append(name)
        subdirectories[:] = kept
        found.extend(os.path.join(directory, name) for name in files if not name.startswith("."))
    return sorted(found)


def is_inside(path: str, root: str) -> bool:
    """Whether the resolved ``path`` is ``root`` or below it."""
    try:
        return os.path.commonpath([root, path]) == root
    except ValueError:  # different drives (Windows)
        return False


def check_path(path: str, *, root: str | None, max_bytes: int) -> str:
    """The resolved path of ``path`` once it passes every check short of opening it (see the module doc)."""
    real = os.path.realpath(path)
    if root is not None and not is_inside(real, os.path.realpath(root)):
        raise UnsafeDocumentPath(
            f"{path}: a symlink leading outside the folder ({real}); not read",
            source=path,
            field="path",
            reason="outside_root",
        )
    try:
        info = os.lstat(real)
    except FileNotFoundError as error:
        raise DocumentNotFound(f"{path}: no such file", source=path, field="path") from error
    except OSError as error:
        raise _unreadable(path, error) from error
    _require_regular(path, info.st_mode)
    _require_size(path, info.st_size, max_bytes)
    return real


def read_regular_file(path: str, *, root: str | None, max_bytes: int) -> bytes:
    """The bytes of ``path`` when it is a regular file (inside ``root`` when given); see the module doc."""
    real = check_path(path, root=root, max_bytes=max_bytes)
    try:
        descriptor = os.open(real, _OPEN_FLAGS)
    except FileNotFoundError as error:
        raise DocumentNotFound(f"{path}: no such file", source=path, field="path") from error
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeDocumentPath(
                f"{path}: became a symlink while being read; not read",
                source=path,
                field="path",
                reason="not_regular_file",
            ) from error
        raise _unreadable(path, error) from error
    try:
        opened = os.fstat(descriptor)
        _require_regular(path, opened.st_mode)
        _require_size(path, opened.st_size, max_bytes)
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(descriptor, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as error:
        raise _unreadable(path, error) from error
    finally:
        os.close(descriptor)
    _require_size(path, total, max_bytes)
    return b"".join(chunks)


def _unreadable(path: str, error: OSError) -> DocumentRejected:
    return DocumentRejected(f"{path}: cannot read it ({error.strerror})", source=path, field="path")


def _require_regular(path: str, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise UnsafeDocumentPath(
            f"{path}: {kind}, not a regular file; not read",
            source=path,
            field="path",
            reason="not_regular_file",
        )


def _require_size(path: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise DocumentTooLarge(
            f"{path}: {size} bytes is over the limit of {max_bytes} bytes (max_document_bytes)",
            source=path,
            field="max_document_bytes",
            size=size,
            max_bytes=max_bytes,
        )
