"""The IMAP wire, server side: the client's bytes in, command values out. Sans-I/O.

Role: `parse_command(buf, limits, utf8=...)` returns `(Command | NeedMore | BadCommand, used)` for
the first command in `buf`; `parse_idle_done` and `parse_auth_response` read the client's lines
inside IDLE and AUTHENTICATE. Nothing here reads, writes, logs or raises for anything a client
sends. The modules: lexer.py (lines, literals, tokens, `Limits`, `NeedMore`, `BadCommand`),
commands.py (the command values), sequence.py (`SequenceSet`), fetch.py (FETCH attributes),
search.py (SEARCH keys), mutf7.py (modified UTF-7 names), parser.py (the commands' syntax).

RFCs: RFC 9051 (IMAP4rev2) §6 and §9, RFC 3501 (IMAP4rev1) and the extensions named in each
module. Left out: encoding responses (the session's responses.py), the client side.
Hand-written: the standard library's imaplib is a client, and no maintained server-side IMAP
parser is sans-I/O.
"""

from postoffice.imap.wire.commands import (
    Append, AppendMessage, Authenticate, Capability, Check, Close, Command, Copy, Create, Delete, Done,
    Enable, Examine, Expunge, Fetch, Id, Idle, List, Login, Logout, Lsub, Move, Namespace, Noop, QResync,
    Rename, Search, Select, StartTls, Status, Store, Subscribe, UidExpunge, Unselect, Unsubscribe,
)
from postoffice.imap.wire.fetch import Binary, BodySection, BinarySize, FetchAttribute, Section
from postoffice.imap.wire.lexer import BadCommand, Limits, NeedMore
from postoffice.imap.wire.mutf7 import decode_mutf7, encode_mutf7
from postoffice.imap.wire.parser import (
    LIMITS, AuthResponse, parse_auth_response, parse_command, parse_idle_done,
)
from postoffice.imap.wire.search import (
    All, And, Date, Flag, Header, ModSeq, Not, Or, SearchKey, Sequence, Size, Text,
)
from postoffice.imap.wire.sequence import STAR, SequenceSet

__all__ = [
    "Append", "AppendMessage", "Authenticate", "Capability", "Check", "Close", "Command", "Copy", "Create",
    "Delete", "Done", "Enable", "Examine", "Expunge", "Fetch", "Id", "Idle", "List", "Login", "Logout",
    "Lsub", "Move", "Namespace", "Noop", "QResync", "Rename", "Search", "Select", "StartTls", "Status",
    "Store", "Subscribe", "UidExpunge", "Unselect", "Unsubscribe", "Binary", "BodySection", "BinarySize", "FetchAttribute", "Section", "BadCommand",
    "Limits", "NeedMore", "decode_mutf7", "encode_mutf7", "LIMITS", "AuthResponse",
    "parse_auth_response", "parse_command", "parse_idle_done", "All", "And", "Date", "Flag", "Header",
    "ModSeq", "Not", "Or", "SearchKey", "Sequence", "Size", "Text", "STAR", "SequenceSet",
]
