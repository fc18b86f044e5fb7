"""The content type of a file from its first bytes — never from the client's word.

A client may call an executable `invoice.pdf` and send `Content-Type: application/pdf`; the
type stored (and checked against a `file` field's `accept` list) is the one the bytes show.
Known signatures get their type; text that decodes as UTF-8 is `text/plain` (HTML and SVG
included: they are downloaded, never rendered, so they cannot run script in the app's
origin); anything else is `application/octet-stream`. ZIP containers of office documents
are told apart by their first member's name.
"""

from __future__ import annotations

HEAD_BYTES = 4096
"""How many leading bytes the sniffer needs."""

OCTET_STREAM = "application/octet-stream"

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # .doc/.xls/.msg
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/x-msdownload"),
)

_OFFICE = (
    (b"word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (b"ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)


def sniff(head: bytes) -> str:
    """The content type the leading bytes `head` (up to `HEAD_BYTES`) show."""
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(head)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return "text/plain" if _is_text(head) else OCTET_STREAM


def _zip_type(head: bytes) -> str:
    if b"mimetypeapplication/vnd.oasis.opendocument." in head[:200]:
        start = head.index(b"mimetype") + len(b"mimetype")
        end = start
        while end < len(head) and 32 < head[end] < 127 and end - start < 80:
            end += 1
        return head[start:end].decode("ascii")
    for marker, content_type in _OFFICE:
        if marker in head:
            return content_type
    return "application/zip"


def _is_text(head: bytes) -> bool:
    if not head:
        return True
    if b"\x00" in head:
        return False
    for cut in range(4):  # the head may end inside a multi-byte character
        try:
            head[:len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return True
    return False


def accepted(content_type: str, accept: tuple[str, ...]) -> bool:
    """Whether `content_type` matches one of `accept` (`image/*` matches every image)."""
    if not accept:
        return True
    major = content_type.split("/", 1)[0]
    return any(pattern == content_type or pattern == f"{major}/*" or pattern == "*/*"
               for pattern in accept)
