"""Uploaded files, one by one or in a zip, read into Documents within limits.

A zip is never extracted to disk: members are read into memory with a hard cap on each one
and on the total, so a zip bomb stops at the limit whatever its headers claim, and a member
path like ``../../etc/passwd`` is refused rather than used.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from retrieval.documents import Document
from retrieval.loaders import SUFFIXES, LoadError
from retrieval.sanitize import load_upload

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_MAX_RATIO = 200  # uncompressed/compressed; text rarely passes 20, bombs pass 1000


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int  # per file, and for a whole request or zip as sent
    max_files: int = 500
    max_total_factor: int = 5  # a zip may unpack to at most this many times max_bytes


def read_uploads(
    files: list[tuple[str, bytes]], limits: UploadLimits
) -> tuple[list[Document], list[LoadError]]:
    """Documents from uploaded (name, content) pairs; zips are expanded. Errors are collected,
    so the caller can refuse the whole batch and say exactly which file is wrong and why."""
    docs: list[Document] = []
    errors: list[LoadError] = []
    for name, data in files:
        if len(data) > limits.max_bytes:
            errors.append(LoadError(name, f"larger than the {limits.max_bytes} byte limit"))
        elif data.startswith(_ZIP_MAGIC):
            try:
                members = _expand_zip(name, data, limits)
            except LoadError as exc:
                errors.append(exc)
                continue
            for member, content in members:
                _load_into(docs, errors, member, content)
        else:
            _load_into(docs, errors, name, data)
    _check_unique(docs, errors)
    return docs, errors


def _load_into(docs: list[Document], errors: list[LoadError], name: str, data: bytes) -> None:
    try:
        docs.append(load_upload(name, data))
    except LoadError as exc:
        errors.append(exc)


def _check_unique(docs: list[Document], errors: list[LoadError]) -> None:
    seen: set[str] = set()
    for doc in docs:
        if doc.doc_id in seen:
            errors.append(LoadError(doc.doc_id, "two files in this upload give the same id"))
        seen.add(doc.doc_id)


def _expand_zip(name: str, data: bytes, limits: UploadLimits) -> list[tuple[str, bytes]]:
    """(flattened member path, content) of every document in the zip, read within limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise LoadError(name, f"not a readable zip ({exc})") from exc
    with archive:
        infos = [info for info in archive.infolist() if _is_document(name, info)]
        if len(infos) > limits.max_files:
            raise LoadError(name, f"more than {limits.max_files} files in the zip")
        budget = limits.max_bytes * limits.max_total_factor
        members: list[tuple[str, bytes]] = []
        for info in infos:
            if info.compress_size and info.file_size / info.compress_size > _MAX_RATIO:
                raise LoadError(name, f"{info.filename} is compressed suspiciously well")
            content = _read_member(name, archive, info, min(limits.max_bytes, budget))
            budget -= len(content)
            # "guides/reset.md" -> "guides-reset.md": ids follow the KB folder's convention.
            members.append((info.filename.replace("/", "-"), content))
    if not members:
        raise LoadError(name, "the zip holds no .md, .html, .txt or .pdf files")
    return members


def _is_document(name: str, info: zipfile.ZipInfo) -> bool:
    path = PurePosixPath(info.filename.replace("\\", "/"))
    if info.is_dir() or path.suffix.lower() not in SUFFIXES:
        return False
    if path.is_absolute() or ".." in path.parts or ":" in info.filename:
        raise LoadError(name, f"unsafe path in the zip: {info.filename}")
    # Hidden files and macOS resource forks are not documents.
    return not any(part.startswith(".") or part == "__MACOSX" for part in path.parts)


def _read_member(name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    try:
        with archive.open(info) as member:
            content = member.read(cap + 1)  # the header's size may lie; the cap does not
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, zlib.error) as exc:
        raise LoadError(name, f"cannot read {info.filename} ({exc})") from exc
    if len(content) > cap:
        raise LoadError(name, f"{info.filename} unpacks to more than the {cap} byte limit")
    return content
