"""What a received message holds, for a person: its text, its attachments, its header fields.

Parsing uses the stdlib `email` package (policy.default: RFC 2047 words and RFC 2231 parameters
are decoded). The text shown is the text/plain body, else the text/html body reduced to text
(RFC 2046 §5.1.4: of alternatives, the plainest one this client can show). Attachments are the
other leaf parts, recursing into multiparts (mixed, signed) but not into attached messages, which
are one attachment each, saved as .eml.

Saved file names come from the sender: `safe_filename` keeps only a base name (no directory, no
leading dot) so an attachment named "../../.bashrc" is written as "bashrc" inside the directory
asked for, and `save` never overwrites an existing file.
"""

from __future__ import annotations

import html.parser
import mimetypes
import os
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str             # as sent (decoded), "" when none was given
    content_type: str
    data: bytes               # decoded content

    @property
    def size(self) -> int:
        return len(self.data)


def parse(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)


def header(msg: Message, name: str) -> str:
    """A header field's decoded value, its raw text when it cannot be decoded, "" when absent."""
    try:
        value = msg.get(name)
        return " ".join(str(value).split()) if value is not None else ""
    except Exception:
        # The header registry's parsers fail on some malformed fields with IndexError,
        # AttributeError or HeaderParseError (Message-ID: <a@[b>); the field as sent is still
        # worth showing, and still holds the msg-ids a reply threads on.
        raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), "")
        return " ".join(str(raw).split())


def body_part(msg: EmailMessage) -> MIMEPart | None:
    try:
        return msg.get_body(preferencelist=("plain", "html"))
    except (KeyError, TypeError):
        return None


def text_of(part: MIMEPart) -> str:
    """A text part's content as str, whatever its declared charset says (or fails to)."""
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content.replace("\r\n", "\n")
    except (LookupError, UnicodeError, KeyError, AssertionError):
        pass
    raw = part.get_payload(decode=True) or b""
    if not isinstance(raw, bytes):
        return ""
    return raw.decode("utf-8", "replace").replace("\r\n", "\n")


def body_text(msg: EmailMessage) -> str:
    part = body_part(msg)
    if part is None:
        return ""
    text = text_of(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text


def attachments(msg: EmailMessage) -> list[Attachment]:
    out: list[Attachment] = []
    if not msg.is_multipart():
        if msg.get_content_maintype() != "text" or msg.get_content_disposition() == "attachment":
            out.append(_attachment(msg))
        return out
    _collect(msg, out)
    return out


def _collect(part: MIMEPart, out: list[Attachment]) -> None:
    for child in part.iter_attachments():
        if child.get_content_maintype() == "multipart":
            _collect(child, out)  # a signed or nested mixed part
        else:
            out.append(_attachment(child))


def _attachment(part: Message) -> Attachment:
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        data = inner.as_bytes(policy=policy.SMTP) if isinstance(inner, Message) else b""
    else:
        raw = part.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else b""
    try:
        filename = part.get_filename() or ""
    except (ValueError, TypeError):
        filename = ""
    return Attachment(str(filename), content_type, data)


def safe_filename(att: Attachment, index: int) -> str:
    name = att.filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    if not name:
        ext = ".eml" if att.content_type == "message/rfc822" else mimetypes.guess_extension(att.content_type) or ".bin"
        name = f"attachment-{index}{ext}"
    # File systems limit a name to 255 bytes, not characters; keep room for " (n)" and the extension.
    stem, ext = os.path.splitext(name)
    if len(ext.encode("utf-8", "surrogateescape")) > 20:
        stem, ext = name, ""
    while len((stem + ext).encode("utf-8", "surrogateescape")) > 200:
        stem = stem[:-1]
    return stem + ext


def save(att: Attachment, directory: Path, index: int) -> Path:
    """Write the attachment into `directory` under a safe, new name; returns where."""
    directory.mkdir(parents=True, exist_ok=True)
    name = safe_filename(att, index)
    stem, ext = os.path.splitext(name)
    n = 0
    while True:
        path = directory / (name if n == 0 else f"{stem} ({n}){ext}")
        try:
            with open(path, "xb") as f:
                f.write(att.data)
                f.flush()
                os.fsync(f.fileno())
            return path
        except FileExistsError:
            n += 1


class _TextFromHtml(html.parser.HTMLParser):
    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag in self.BREAKS:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BREAKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    parser = _TextFromHtml()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.out)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
