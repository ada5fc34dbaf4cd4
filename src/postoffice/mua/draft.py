"""`--edit`: the draft opened in $VISUAL or $EDITOR, then read back.

The draft file is a small header block (To, Cc, Bcc, Subject), a blank line, then the body, as
mutt and similar clients present it; whatever the person changes in the header block (a name
from the address book, a new Cc) is taken back. The file is private (mode 0600, in a private
temporary directory) and removed afterwards. An editor that exits with an error, or a body left
empty, stops the command before anything is sent.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from postoffice.mua.connect import MuaError

FIELDS = ("To", "Cc", "Bcc", "Subject")


@dataclass(slots=True)
class EditedDraft:
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    body: str


def render(d: EditedDraft) -> str:
    return (f"To: {', '.join(d.to)}\nCc: {', '.join(d.cc)}\nBcc: {', '.join(d.bcc)}\nSubject: {d.subject}\n\n"
            + d.body)


def parse(text: str) -> EditedDraft:
    head, sep, body = text.partition("\n\n")
    if not sep:
        head, body = text, ""
    values: dict[str, str] = {}
    current = ""
    # Lines end at "\n" only, as render() writes them: str.splitlines() would also end one at U+2028,
    # U+0085 or a form feed inside a Subject, and what follows could read as a Bcc field.
    for line in head.split("\n"):
        if not line:  # the newline ending a header block that has no body after it
            continue
        if line[:1] in (" ", "\t") and current:
            values[current] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or name.strip().title() not in FIELDS:
            raise MuaError(f"the draft's header has a line this client does not know: {line!r}; nothing was sent")
        current = name.strip().title()
        values[current] = value.strip()

    def listed(name: str) -> list[str]:
        value = values.get(name, "")
        return [value] if value else []

    return EditedDraft(listed("To"), listed("Cc"), listed("Bcc"), values.get("Subject", ""), body)


def edit(d: EditedDraft) -> EditedDraft:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="postoffice-draft-") as tmp:
        path = Path(tmp) / "draft.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(render(d))
        try:
            done = subprocess.run([*shlex.split(editor), str(path)])
        except OSError as e:
            raise MuaError(f"cannot run the editor {editor!r}: {e.strerror}; nothing was sent") from None
        if done.returncode != 0:
            raise MuaError(f"the editor exited with status {done.returncode}; nothing was sent")
        edited = parse(path.read_text(encoding="utf-8"))
    if not edited.body.strip():
        raise MuaError("the message is empty; nothing was sent")
    return edited
