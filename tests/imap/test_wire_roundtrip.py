"""Round trips through the IMAP wire, both ways, for generated values.

Commands: strategies make command values (wire/commands.py) and a client-side encoder written here
from RFC 9051 §9 spells them, choosing wherever the grammar allows: an atom, a quoted string or a
literal, synchronizing "{n}" or LITERAL+ "{n+}" (RFC 7888 §3); any case for keywords; a
parenthesized or bare flag list; a key in parentheses or not; modified UTF-7 mailbox names (RFC
3501 §5.1.3) or, after ENABLE, UTF-8 (RFC 9051 §5.1). `parse_command` must give back an equal value
and use every byte, also with another command pipelined behind.

Responses: values written by responses.py and fetch_data.py (strings, astrings, nstrings, mailbox
names, flag lists, sequence sets, dates, response codes, ESEARCH and FETCH responses) are read back
by a small response reader written here from RFC 9051 §9, and FETCH responses also by IMAPClient's
parser, as a client would read them; where the server also parses the value (a mailbox name, a
flag list, a date-time), its own parser must read back what it wrote."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import imapclient.response_parser
from hypothesis import given, settings
from hypothesis import strategies as st

from postoffice.imap import fetch_data as fd
from postoffice.imap import responses as r
from postoffice.imap.wire import (
    All, And, Append, AppendMessage, Binary, BinarySize, BodySection, Copy, Create, Date, Delete, Examine,
    Fetch, Flag, Header, List, Login, ModSeq, Move, Not, Or, Rename, Search, Section, Select, Sequence,
    SequenceSet, Size, Status, Store, Subscribe, Text, UidExpunge, Unsubscribe, decode_mutf7, encode_mutf7,
    parse_command,
)
from postoffice.imap.wire.commands import QResync
from postoffice.imap.wire.fetch import MACROS, SIMPLE_ATTRIBUTES
from postoffice.imap.wire.parser import LIMITS, LIST_RETURN_OPTIONS, STATUS_ITEMS
from postoffice.imap.wire.search import RETURN_OPTIONS
from postoffice.message.envelope import Address, Envelope

MAX_NUMBER, MAX_NUMBER64 = 2**32 - 1, 2**63 - 1
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent")
_ASTRING_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\]+')      # 1*ASTRING-CHAR
_LIST_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){"\\]+')           # 1*list-char
ATOM_CHARS = "".join(c for c in map(chr, range(0x21, 0x7f)) if c not in '(){%*"\\]')
TAG_CHARS = ATOM_CHARS.replace("+", "") + "]"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Unicode text without lone surrogates (not characters) and NUL (no IMAP string holds it).
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
atoms = st.text(ATOM_CHARS, min_size=1, max_size=8)
tags = st.text(TAG_CHARS, min_size=1, max_size=6)
names = st.one_of(text, st.sampled_from(["INBOX", "inbox", "InBox/sub", "a&b", "Entwürfe", "台北/日本語", "a%b*",
                                         "x]y", "📬", "a b", 'q"uo\\te', "", "/", "line\r\nbreak", "NIL"]))


# --- the client-side encoder (RFC 9051 §9) -------------------------------------------------------

def keyword(draw, word: str) -> bytes:
    """A keyword in any case (RFC 9051 §9: "case-insensitive")."""
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.lower() if f else c.upper() for c, f in zip(word, flips)).encode()


def literal(draw, data: bytes, *, eight: bool = False) -> bytes:
    plus = b"+" if draw(st.booleans()) else b""
    return (b"~" if eight else b"") + b"{%d%s}\r\n" % (len(data), plus) + data


def string(draw, data: bytes, *, utf8: bool) -> bytes:
    """A quoted string when QUOTED-CHAR allows (no CR, LF or NUL; 8-bit only as UTF-8, after ENABLE)
    and the draw picks it; a literal otherwise."""
    quotable = not re.search(rb"[\x00\r\n]", data) and (data.isascii() or utf8)
    if quotable and draw(st.booleans()):
        return b'"' + re.sub(rb'(["\\])', rb"\\\1", data) + b'"'
    return literal(draw, data)


def astring(draw, data: bytes, *, utf8: bool, atom: re.Pattern[bytes] = _ASTRING_ATOM) -> bytes:
    if atom.fullmatch(data) and draw(st.booleans()):
        return data
    return string(draw, data, utf8=utf8)


def mailbox(draw, name: str, *, utf8: bool, pattern: bool = False) -> bytes:
    """RFC 9051 §5.1: UTF-8 after ENABLE; RFC 3501 §5.1.3: modified UTF-7 before."""
    wire = name.encode() if utf8 else encode_mutf7(name).encode()
    return astring(draw, wire, utf8=utf8, atom=_LIST_ATOM if pattern else _ASTRING_ATOM)


def is_inbox(name: str) -> bool:
    # RFC 9051 §9 mailbox: "INBOX" with its ASCII letters in any case is INBOX.
    return name.isascii() and name.upper() == "INBOX"


def expected_mailbox(name: str) -> str:
    """The name the parser gives back: INBOX in capitals, also as the first level of an inferior's
    name ("inbox/Lists" is "INBOX/Lists", RFC 9051 §5.1)."""
    if is_inbox(name[:5]) and name[5:6] in ("", "/"):
        return "INBOX" + name[5:]
    return name


def flag(draw, value: str) -> bytes:
    return keyword(draw, value) if value in SYSTEM_FLAGS else value.encode()


def flag_list(draw, values: tuple[str, ...]) -> bytes:
    return b"(" + b" ".join(flag(draw, f) for f in values) + b")"


def date_text(value: date) -> bytes:
    return b"%d-%s-%04d" % (value.day, _MONTHS[value.month - 1].encode(), value.year)


def date_time(draw, when: datetime) -> bytes:
    """RFC 9051 §9 date-time; the day as date-day-fixed (" 7") or, as clients also send, "07"."""
    minutes = int(when.utcoffset().total_seconds()) // 60
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    day = f"{when.day:2d}" if draw(st.booleans()) else f"{when.day:02d}"
    return (f'"{day}-{_MONTHS[when.month - 1]}-{when.year:04d} {when:%H:%M:%S} '
            f'{sign}{minutes // 60:02d}{minutes % 60:02d}"').encode()


def joined(*parts: bytes) -> bytes:
    return b" ".join(parts)


# --- strategies for the values --------------------------------------------------------------------

numbers = st.integers(1, MAX_NUMBER)
bounds = st.one_of(numbers, st.just(0))   # 0 is "*"
sequence_sets = st.one_of(
    st.lists(st.tuples(bounds, bounds), min_size=1, max_size=4).map(lambda ranges: SequenceSet(tuple(ranges))),
    st.just(SequenceSet(saved=True)))
SYSTEM_FLAGS_BY_UPPER = {f.upper(): f for f in SYSTEM_FLAGS}
system_flags = st.sampled_from(SYSTEM_FLAGS)
# Flags as the parser gives them back: system flags in their canonical case, each once.
flags = st.lists(st.one_of(system_flags, atoms, atoms.map(lambda a: "\\" + a)), max_size=5).map(
    lambda fs: tuple(dict.fromkeys(SYSTEM_FLAGS_BY_UPPER.get(f.upper(), f) for f in fs)))
field_names = st.text("".join(c for c in map(chr, range(0x21, 0x7f)) if c != ":"), min_size=1, max_size=10)
parts = st.lists(numbers, max_size=3).map(tuple)
partials = st.none() | st.tuples(st.integers(0, MAX_NUMBER64), st.integers(1, MAX_NUMBER64))
dates = st.dates(date(1, 1, 1), date(9999, 12, 31))
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
date_times = st.datetimes(datetime(1000, 1, 2), datetime(9999, 12, 30), timezones=offsets).map(
    lambda d: d.replace(microsecond=0))


@st.composite
def sections(draw) -> Section:
    part = draw(parts)
    choices = [None, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"] + (["MIME"] if part else [])
    kind = draw(st.sampled_from(choices))
    fields = tuple(draw(st.lists(field_names, min_size=1, max_size=3))) if kind and "FIELDS" in kind else ()
    return Section(part, kind, fields)


def section_text(draw, section: Section, *, utf8: bool) -> bytes:
    spec = b".".join(b"%d" % p for p in section.part)
    if section.text:
        spec += (b"." if spec else b"") + keyword(draw, section.text)
    if section.fields:
        spec += b" (" + joined(*(astring(draw, f.encode(), utf8=utf8) for f in section.fields)) + b")"
    return b"[" + spec + b"]"


def part_text(part: tuple[int, ...]) -> bytes:
    return b"[" + b".".join(b"%d" % p for p in part) + b"]"


def partial_text(partial: tuple[int, int] | None) -> bytes:
    return b"" if partial is None else b"<%d.%d>" % partial


fetch_attributes = st.one_of(
    st.sampled_from(sorted(SIMPLE_ATTRIBUTES)),
    st.builds(BodySection, sections(), st.booleans(), partials),
    st.builds(Binary, parts, st.booleans(), partials),
    st.builds(BinarySize, parts))


def attribute_text(draw, a, *, utf8: bool) -> bytes:
    match a:
        case str():
            return keyword(draw, a)
        case BodySection():
            return (keyword(draw, "BODY.PEEK" if a.peek else "BODY") + section_text(draw, a.section, utf8=utf8)
                    + partial_text(a.partial))
        case Binary():
            return keyword(draw, "BINARY.PEEK" if a.peek else "BINARY") + part_text(a.part) + partial_text(a.partial)
        case BinarySize():
            return keyword(draw, "BINARY.SIZE") + part_text(a.part)
    raise TypeError(a)


# --- command round trips --------------------------------------------------------------------------

def reads_back(value, wire: bytes, *, utf8: bool) -> None:
    """`wire` parses to `value` using every byte, also with a command pipelined behind it."""
    assert parse_command(wire, LIMITS, utf8=utf8) == (value, len(wire))
    assert parse_command(wire + b"next NOOP\r\n", LIMITS, utf8=utf8) == (value, len(wire))


@given(st.data(), tags, sequence_sets, st.booleans(), st.booleans())
def test_fetch(data, tag, sequence, uid, utf8):
    draw = data.draw
    macro = draw(st.none() | st.sampled_from(sorted(MACROS)))
    if macro:
        attributes, items = MACROS[macro], keyword(draw, macro)
    else:
        attributes = tuple(dict.fromkeys(draw(st.lists(fetch_attributes, min_size=1, max_size=5))))
        items = [attribute_text(draw, a, utf8=utf8) for a in attributes]
        items = items[0] if len(items) == 1 and draw(st.booleans()) else b"(" + joined(*items) + b")"
    changedsince = draw(st.none() | st.integers(0, MAX_NUMBER64))
    vanished = uid and changedsince is not None and draw(st.booleans())
    modifiers = ([b"%s %d" % (keyword(draw, "CHANGEDSINCE"), changedsince)] if changedsince is not None else []) + (
        [keyword(draw, "VANISHED")] if vanished else [])
    modifiers = draw(st.permutations(modifiers))
    wire = joined(tag.encode(), *([keyword(draw, "UID")] if uid else []), keyword(draw, "FETCH"),
                  str(sequence).encode(), items) + (b" (" + joined(*modifiers) + b")" if modifiers else b"") + b"\r\n"
    reads_back(Fetch(tag, sequence, attributes, uid, changedsince, vanished), wire, utf8=utf8)


@given(st.data(), tags, sequence_sets, flags, st.sampled_from(["+", "-", ""]), st.booleans(), st.booleans(),
       st.none() | st.integers(0, MAX_NUMBER64))
def test_store(data, tag, sequence, values, mode, silent, uid, unchangedsince):
    draw = data.draw
    item = keyword(draw, f"{mode}FLAGS" + (".SILENT" if silent else ""))
    listed = flag_list(draw, values) if not values or draw(st.booleans()) else joined(*(flag(draw, f) for f in values))
    modifier = [b"(%s %d)" % (keyword(draw, "UNCHANGEDSINCE"), unchangedsince)] if unchangedsince is not None else []
    wire = joined(tag.encode(), *([keyword(draw, "UID")] if uid else []), keyword(draw, "STORE"),
                  str(sequence).encode(), *modifier, item, listed) + b"\r\n"
    reads_back(Store(tag, sequence, mode, values, silent, uid, unchangedsince), wire, utf8=False)


# SEARCH keys in the forms the parser gives back; each may be written in more than one way.
_FLAG_WORDS = {("\\Answered", True): ["ANSWERED"], ("\\Deleted", True): ["DELETED"], ("\\Draft", True): ["DRAFT"],
               ("\\Flagged", True): ["FLAGGED"], ("\\Seen", True): ["SEEN"], ("\\Recent", True): ["RECENT"],
               ("\\Answered", False): ["UNANSWERED"], ("\\Deleted", False): ["UNDELETED"],
               ("\\Draft", False): ["UNDRAFT"], ("\\Flagged", False): ["UNFLAGGED"], ("\\Seen", False): ["UNSEEN"],
               ("\\Recent", False): ["UNRECENT", "OLD"]}
_DATE_WORDS = {("INTERNAL", "<"): "BEFORE", ("INTERNAL", "="): "ON", ("INTERNAL", ">="): "SINCE",
               ("SENT", "<"): "SENTBEFORE", ("SENT", "="): "SENTON", ("SENT", ">="): "SENTSINCE"}
NEW = And((Flag("\\Recent", True), Flag("\\Seen", False)))
search_leaves = st.one_of(
    st.just(All()), st.just(NEW),
    st.builds(Flag, st.sampled_from(SYSTEM_FLAGS), st.booleans()), st.builds(Flag, atoms, st.booleans()),
    st.builds(Header, st.sampled_from(["Bcc", "Cc", "From", "Subject", "To"]) | text, text),
    st.builds(Text, st.sampled_from(["BODY", "TEXT"]), text),
    st.builds(Date, st.sampled_from(["INTERNAL", "SENT"]), st.sampled_from(["<", "=", ">="]), dates),
    st.builds(Size, st.sampled_from(["<", ">"]), st.integers(0, MAX_NUMBER64)),
    st.builds(Sequence, sequence_sets, st.booleans()),
    st.builds(ModSeq, st.integers(0, MAX_NUMBER64)),
    st.builds(ModSeq, st.integers(0, MAX_NUMBER64), st.one_of(system_flags, atoms).map(lambda f: "/flags/" + f),
              st.sampled_from(["priv", "shared", "all"])))
search_keys = st.recursive(search_leaves, lambda inner: st.one_of(
    st.builds(Not, inner), st.builds(Or, inner, inner),
    st.lists(inner, min_size=2, max_size=3).map(lambda keys: And(tuple(keys)))), max_leaves=8)


def key_text(draw, key, *, utf8: bool) -> bytes:
    s = lambda value: astring(draw, value.encode(), utf8=utf8)  # noqa: E731
    match key:
        case All():
            out = keyword(draw, "ALL")
        case And() if key == NEW and draw(st.booleans()):
            out = keyword(draw, "NEW")
        case And(keys=keys):
            out = b"(" + joined(*(key_text(draw, k, utf8=utf8) for k in keys)) + b")"
        case Or(a=a, b=b):
            out = joined(keyword(draw, "OR"), key_text(draw, a, utf8=utf8), key_text(draw, b, utf8=utf8))
        case Not(key=inner):
            out = joined(keyword(draw, "NOT"), key_text(draw, inner, utf8=utf8))
        case Flag(name=name, set=is_set) if name in SYSTEM_FLAGS:
            out = keyword(draw, draw(st.sampled_from(_FLAG_WORDS[name, is_set])))
        case Flag(name=name, set=is_set):
            out = joined(keyword(draw, "KEYWORD" if is_set else "UNKEYWORD"), name.encode())
        case Header(name=name, value=value) if name in ("Bcc", "Cc", "From", "Subject", "To") and draw(st.booleans()):
            out = joined(keyword(draw, name), s(value))
        case Header(name=name, value=value):
            out = joined(keyword(draw, "HEADER"), s(name), s(value))
        case Text(where=where, value=value):
            out = joined(keyword(draw, where), s(value))
        case Date(which=which, op=op, date=day):
            written = date_text(day)
            if day.day < 10 and draw(st.booleans()):
                written = b"0" + written
            out = joined(keyword(draw, _DATE_WORDS[which, op]), b'"%s"' % written if draw(st.booleans()) else written)
        case Size(op=op, n=n):
            out = joined(keyword(draw, "LARGER" if op == ">" else "SMALLER"), b"%d" % n)
        case Sequence(set=seq, uid=uid):
            out = (joined(keyword(draw, "UID"), str(seq).encode()) if uid else str(seq).encode())
        case ModSeq(modseq=n, entry=entry, entry_type=kind):
            # RFC 7162 §7: entry-flag-name = DQUOTE "/flags/" attr-flag DQUOTE, a quoted string.
            extra = [b'"' + re.sub(rb'(["\\])', rb"\\\1", entry.encode()) + b'"', keyword(draw, kind)] if entry else []
            out = joined(keyword(draw, "MODSEQ"), *extra, b"%d" % n)
        case _:
            raise TypeError(key)
    # RFC 9051 §9: "(" search-key ")" is the key itself.
    return b"(" + out + b")" if not isinstance(key, And) and draw(st.integers(0, 5)) == 0 else out


@settings(max_examples=200)
@given(st.data(), tags, st.lists(search_keys, min_size=1, max_size=3),
       st.none() | st.sampled_from(["UTF-8", "US-ASCII"]),
       st.none() | st.lists(st.sampled_from(sorted(RETURN_OPTIONS)), unique=True).map(tuple), st.booleans(),
       st.booleans())
def test_search(data, tag, keys, charset, returns, uid, utf8):
    draw = data.draw
    criteria = keys[0] if len(keys) == 1 else And(tuple(keys))
    program = [key_text(draw, k, utf8=utf8) for k in keys]
    if charset:
        written = charset.encode() if draw(st.booleans()) else b'"%s"' % charset.encode()
        program = [keyword(draw, "CHARSET"), written.lower() if draw(st.booleans()) else written] + program
    head = [tag.encode()] + ([keyword(draw, "UID")] if uid else []) + [keyword(draw, "SEARCH")]
    if returns is not None:
        head += [keyword(draw, "RETURN"), b"(" + joined(*(keyword(draw, o) for o in returns)) + b")"]
    reads_back(Search(tag, criteria, charset, returns, uid), joined(*head, *program) + b"\r\n", utf8=utf8)


@given(st.data(), tags, names, st.lists(names, min_size=1, max_size=3), st.booleans())
def test_list(data, tag, reference, patterns, utf8):
    draw = data.draw
    selection = tuple(draw(st.lists(st.sampled_from(["SUBSCRIBED", "REMOTE", "SPECIAL-USE"]), unique=True)))
    if selection and {"SUBSCRIBED", "SPECIAL-USE"} & set(selection) and draw(st.booleans()):
        selection += ("RECURSIVEMATCH",)   # RFC 5258 §3.1: only with another selection option
    selection = tuple(draw(st.permutations(selection)))   # kept in the order sent
    returns = tuple(draw(st.lists(st.sampled_from(sorted(LIST_RETURN_OPTIONS)), unique=True)))
    status = tuple(draw(st.lists(st.sampled_from(sorted(STATUS_ITEMS)), min_size=1, unique=True))) if (
        "STATUS" in returns) else ()
    with_selection, with_returns = bool(selection) or draw(st.booleans()), bool(returns) or draw(st.booleans())
    several = len(patterns) > 1 or draw(st.booleans())
    extended = with_selection or with_returns or several
    wire = [tag.encode(), keyword(draw, "LIST")]
    if with_selection:
        wire.append(b"(" + joined(*(keyword(draw, o) for o in selection)) + b")")
    shown = [mailbox(draw, p, utf8=utf8, pattern=True) for p in patterns]
    wire += [mailbox(draw, reference, utf8=utf8), b"(" + joined(*shown) + b")" if several else shown[0]]
    if with_returns:
        items = b" (" + joined(*(keyword(draw, i) for i in status)) + b")"
        options = [keyword(draw, o) + (items if o == "STATUS" else b"") for o in returns]
        wire += [keyword(draw, "RETURN"), b"(" + joined(*options) + b")"]
    value = List(tag, expected_mailbox(reference), tuple(patterns), selection, returns, status, extended)
    reads_back(value, joined(*wire) + b"\r\n", utf8=utf8)


qresyncs = st.builds(QResync, numbers, st.integers(1, MAX_NUMBER64),
                     st.none() | sequence_sets.filter(lambda s: not s.saved),
                     st.none() | st.tuples(*[sequence_sets.filter(lambda s: not s.saved)] * 2))


@given(st.data(), tags, names, names, st.booleans())
def test_mailbox_commands(data, tag, name, other, utf8):
    draw = data.draw
    box, expected = mailbox(draw, name, utf8=utf8), expected_mailbox(name)
    kind = draw(st.sampled_from(["SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE",
                                 "STATUS", "COPY", "MOVE", "UID EXPUNGE"]))
    words = [tag.encode(), keyword(draw, kind)]
    if kind in ("SELECT", "EXAMINE"):
        condstore, qresync = draw(st.booleans()), draw(st.none() | qresyncs)
        params = [keyword(draw, "CONDSTORE")] if condstore else []
        params += [qresync_text(draw, qresync)] if qresync else []
        wire = joined(*words, box, *([b"(" + joined(*draw(st.permutations(params))) + b")"] if params else []))
        value = (Select if kind == "SELECT" else Examine)(tag, expected, condstore, qresync)
    elif kind == "CREATE":
        uses = tuple(draw(st.lists(st.sampled_from(["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent",
                                                    "\\Trash"]), unique=True)))
        written = b"(" + joined(*(keyword(draw, u) for u in uses)) + b")"
        use = [b"(" + keyword(draw, "USE") + b" " + written + b")"] if uses or draw(st.booleans()) else []
        wire, value = joined(*words, box, *use), Create(tag, expected, uses)
    elif kind == "RENAME":
        wire = joined(*words, box, mailbox(draw, other, utf8=utf8))
        value = Rename(tag, expected, expected_mailbox(other))
    elif kind == "STATUS":
        items = tuple(draw(st.lists(st.sampled_from(sorted(STATUS_ITEMS)), min_size=1, unique=True)))
        wire = joined(*words, box, b"(" + joined(*(keyword(draw, i) for i in items)) + b")")
        value = Status(tag, expected, items)
    elif kind in ("COPY", "MOVE"):
        sequence, uid = draw(sequence_sets), draw(st.booleans())
        wire = joined(tag.encode(), *([keyword(draw, "UID")] if uid else []), keyword(draw, kind),
                      str(sequence).encode(), box)
        value = (Copy if kind == "COPY" else Move)(tag, sequence, expected, uid)
    elif kind == "UID EXPUNGE":
        sequence = draw(sequence_sets)
        wire, value = joined(*words, str(sequence).encode()), UidExpunge(tag, sequence)
    else:
        wire, value = joined(*words, box), {"DELETE": Delete, "SUBSCRIBE": Subscribe, "UNSUBSCRIBE": Unsubscribe}[kind](
            tag, expected)
    reads_back(value, wire + b"\r\n", utf8=utf8)


def qresync_text(draw, q: QResync) -> bytes:
    inner = [b"%d" % q.uidvalidity, b"%d" % q.modseq] + ([str(q.known_uids).encode()] if q.known_uids else [])
    if q.seq_match:
        inner.append(b"(" + joined(*(str(s).encode() for s in q.seq_match)) + b")")
    return keyword(draw, "QRESYNC") + b" (" + joined(*inner) + b")"


append_messages = st.builds(
    lambda fl, when, content, form: (fl, when, content, form),
    flags, st.none() | date_times, st.binary(max_size=40), st.sampled_from(["literal", "literal8", "utf8"]))


@given(st.data(), tags, names, st.lists(append_messages, min_size=1, max_size=3), st.booleans())
def test_append(data, tag, name, messages, utf8):
    draw = data.draw
    wire = joined(tag.encode(), keyword(draw, "APPEND"), mailbox(draw, name, utf8=utf8))
    expected = []
    for values, when, content, form in messages:
        parts = [flag_list(draw, values)] if values or draw(st.booleans()) else []
        parts += [date_time(draw, when)] if when else []
        body = literal(draw, content, eight=form != "literal")
        parts.append(keyword(draw, "UTF8") + b" (" + body + b")" if form == "utf8" else body)
        wire += b" " + joined(*parts)
        expected.append(AppendMessage(values, when, content, form == "literal8", form == "utf8"))
    value = Append(tag, expected_mailbox(name), tuple(expected))
    reads_back(value, wire + b"\r\n", utf8=utf8)
    # Equal datetimes may differ in zone; the zone sent is the zone kept.
    got = parse_command(wire + b"\r\n", LIMITS, utf8=utf8)[0]
    assert [m.internaldate and m.internaldate.utcoffset() for m in got.messages] == [
        m.internaldate and m.internaldate.utcoffset() for m in expected]


secrets = text | st.sampled_from(['fred "the" \\', "\\", '"', "a\r\nb", "NIL", "", "pässwörd", "{3}", "a b"])


@given(st.data(), tags, secrets, secrets, st.booleans())
def test_login(data, tag, userid, password, utf8):
    wire = joined(tag.encode(), keyword(data.draw, "LOGIN"), astring(data.draw, userid.encode(), utf8=utf8),
                  astring(data.draw, password.encode(), utf8=utf8)) + b"\r\n"
    reads_back(Login(tag, userid, password), wire, utf8=utf8)


def test_only_an_ascii_inbox_is_inbox():
    # RFC 9051 §9: mailbox = "INBOX" / astring, INBOX "case-insensitive" in its ASCII letters; "ınbox"
    # (U+0131 DOTLESS I) is another name, though str.upper() makes it "INBOX".
    dotless = "\u0131nbox"
    assert parse_command(f'a CREATE "{dotless}"\r\n'.encode(), LIMITS, utf8=True)[0] == Create("a", dotless)
    assert parse_command(f"a CREATE {encode_mutf7(dotless)}\r\n".encode(), LIMITS)[0] == Create("a", dotless)
    assert r.mailbox_name(dotless, utf8=True) == f'"{dotless}"'.encode()
    assert r.mailbox_name(dotless, utf8=False) == encode_mutf7(dotless).encode()


# --- a response reader (RFC 9051 §9) --------------------------------------------------------------

class Atom(bytes):
    """An atom as read (NIL, a number, a flag, an item name), told apart from a string."""


_SECTIONED = {b"BODY", b"BODY.PEEK", b"BINARY", b"BINARY.PEEK", b"BINARY.SIZE"}


class ResponseReader:
    """`sections`: atoms may be FETCH item names with a section, "BODY[1.HEADER.FIELDS (A B)]<0>"."""

    def __init__(self, data: bytes, *, sections: bool = False) -> None:
        self.data, self.pos, self.sections = data, 0, sections

    def peek(self, n: int = 1) -> bytes:
        return self.data[self.pos:self.pos + n]

    def expect(self, text: bytes) -> None:
        assert self.peek(len(text)) == text, (text, self.data[self.pos:self.pos + 40])
        self.pos += len(text)

    def value(self):
        c = self.peek()
        if c == b"(":
            self.pos += 1
            items = []
            while self.peek() != b")":
                if items and self.peek() != b"(":  # RFC 9051 §9: "(" 1*address ")", no SP between
                    self.expect(b" ")
                items.append(self.value())
            self.pos += 1
            return items
        if c == b'"':
            m = re.compile(rb'"((?:[^"\\\r\n]|\\["\\])*)"').match(self.data, self.pos)
            assert m, self.data[self.pos:self.pos + 40]
            self.pos = m.end()
            return re.sub(rb'\\(["\\])', rb"\1", m[1])
        m = re.compile(rb"~?\{(\d+)\}\r\n").match(self.data, self.pos)
        if m:
            self.pos = m.end() + int(m[1])
            return self.data[m.end():self.pos]
        return self.atom()

    def atom(self) -> Atom:
        start = self.pos
        while self.pos < len(self.data) and self.peek() not in (b" ", b"(", b")", b"\r"):
            if self.sections and self.peek() == b"[" and self.data[start:self.pos].upper() in _SECTIONED:
                break
            self.pos += 1
        if self.peek() == b"[":
            self.pos += 1
            while self.peek() not in (b"]", b""):
                if self.peek() == b"(":
                    self.value()
                else:
                    self.pos += 1
            self.pos += 1
            while self.pos < len(self.data) and self.peek() not in (b" ", b")", b"\r"):
                self.pos += 1
        assert self.pos > start, self.data[start:start + 40]
        return Atom(self.data[start:self.pos])

    def line(self) -> list:
        """The values of one whole response line, after "*" or the tag, through its CRLF."""
        out = [self.atom()]
        while self.peek() == b" ":
            self.pos += 1
            out.append(self.value())
        self.expect(b"\r\n")
        assert self.pos == len(self.data)
        return out


def read(data: bytes):
    reader = ResponseReader(data)
    value = reader.value()
    assert reader.pos == len(data), data
    return value


def expand(text: bytes) -> list[int]:
    out = []
    for item in text.split(b","):
        low, _, high = item.partition(b":")
        a, b = int(low), int(high or low)
        out += range(a, b + 1) if a <= b else range(a, b - 1, -1)
    return out


# --- response round trips -------------------------------------------------------------------------

@given(st.binary(max_size=60) | text.map(str.encode), st.booleans())
def test_astrings_and_nstrings_read_back(value, utf8):
    written = r.astring(value, utf8=utf8)
    assert read(written) == value and type(read(written)) is (Atom if _ASTRING_ATOM.fullmatch(value) else bytes)
    assert read(r.nstring(value, utf8=utf8)) == value and type(read(r.nstring(value, utf8=utf8))) is bytes
    assert read(r.nstring(None)) == Atom(b"NIL") and type(read(r.nstring(None))) is Atom


@given(text, text, st.booleans())
def test_strings_the_server_writes_its_parser_reads(userid, password, utf8):
    wire = b"t LOGIN " + r.astring(userid, utf8=utf8) + b" " + r.astring(password, utf8=utf8) + b"\r\n"
    assert parse_command(wire, LIMITS, utf8=utf8) == (Login("t", userid, password), len(wire))


@given(names, st.booleans())
def test_mailbox_names_read_back(name, utf8):
    written = r.mailbox_name(name, utf8=utf8)
    raw = read(written).decode()
    assert (raw if utf8 else decode_mutf7(raw)) == ("INBOX" if is_inbox(name) else name)
    # The server reads its own spelling back as the same name (SELECT after LIST).
    assert parse_command(b"t SELECT " + written + b"\r\n", LIMITS, utf8=utf8)[0] == Select("t", expected_mailbox(name))


@given(st.lists(st.one_of(system_flags, atoms, atoms.map(lambda a: "\\" + a), st.just("\\*")), max_size=6))
def test_flag_lists_read_back(values):
    written = r.flag_list(values)
    got = read(written)
    assert all(type(f) is Atom for f in got) and len(got) == len(set(got))
    assert {f.decode() for f in got} == set(values)
    # System flags first (RFC 9051 §9 flag order is free; this server keeps one order per set).
    assert [f.startswith(b"\\") for f in got] == sorted((f.startswith(b"\\") for f in got), reverse=True)
    if "\\*" not in values:  # "\*" is only a PERMANENTFLAGS value; any other list a client may send back
        stored = parse_command(b"t STORE 1 FLAGS " + written + b"\r\n", LIMITS)[0]
        assert set(stored.flags) == {SYSTEM_FLAGS_BY_UPPER.get(f.upper(), f) for f in values}


@given(st.lists(numbers, min_size=1, max_size=20))
def test_sequence_sets_read_back(values):
    written = r.sequence_set(values)
    assert expand(written.encode()) == values   # in the order given: COPYUID pairs by position
    assert list(SequenceSet.parse(written).iter(max(values))) == sorted(set(values))


@given(date_times)
def test_date_times_read_back(when):
    written = r.date_time(when)
    m = re.fullmatch(rb'"([ \d]\d)-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"', written)
    assert m, written
    offset = timedelta(hours=int(m[8]), minutes=int(m[9])) * (-1 if m[7] == b"-" else 1)
    got = datetime(int(m[3]), _MONTHS.index(m[2].decode()) + 1, int(m[1]), int(m[4]), int(m[5]), int(m[6]),
                   tzinfo=timezone(offset))
    assert got == when and got.utcoffset() == when.utcoffset()
    # The server's parser reads it back too (APPEND's date-time), zone and all.
    appended = parse_command(b"t APPEND INBOX " + written + b" {1+}\r\nx\r\n", LIMITS)[0].messages[0].internaldate
    assert appended == when and appended.utcoffset() == when.utcoffset()


@given(numbers, st.lists(st.tuples(numbers, numbers), min_size=1, max_size=8,
                        unique_by=(lambda p: p[0], lambda p: p[1])))
def test_uidplus_codes_read_back(uidvalidity, pairs):
    line = r.tagged("a1", "OK", r.copyuid(uidvalidity, [s for s, _ in pairs], [d for _, d in pairs]), "Done")
    m = re.fullmatch(rb"a1 OK \[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\] Done\r\n", line)
    assert m and int(m[1]) == uidvalidity
    assert list(zip(expand(m[2]), expand(m[3]))) == pairs  # RFC 4315 §3: paired by position
    m = re.fullmatch(rb"\* OK \[APPENDUID (\d+) ([\d:,]+)\] x\r\n",
                     r.untagged_status("OK", r.appenduid(uidvalidity, [d for _, d in pairs]), "x"))
    assert m and int(m[1]) == uidvalidity and expand(m[2]) == [d for _, d in pairs]


@given(tags, st.booleans(), st.lists(st.tuples(st.sampled_from(["MIN", "MAX", "COUNT", "ALL"]),
                                                st.lists(numbers, min_size=1, max_size=5)), unique_by=lambda p: p[0]))
def test_esearch_read_back(tag, uid, data):
    pairs = [(name, (r.sequence_set(ns) if name == "ALL" else str(ns[0])).encode()) for name, ns in data]
    got = ResponseReader(r.esearch(tag, uid, pairs)).line()
    assert got[:3] == [Atom(b"*"), Atom(b"ESEARCH"), [Atom(b"TAG"), tag.encode()]]
    rest = got[3:]
    if uid:
        assert rest[0] == Atom(b"UID")
        rest = rest[1:]
    assert [(k.decode(), v) for k, v in zip(rest[::2], rest[1::2])] == pairs


addresses = st.builds(Address, st.none() | text, st.none() | text, st.none() | text, st.none() | text)
address_lists = st.lists(addresses, max_size=3).map(tuple)
envelopes = st.builds(Envelope, st.none() | text, st.none() | text, address_lists, address_lists, address_lists,
                      address_lists, address_lists, address_lists, st.none() | text, st.none() | text)


def envelope_of(value) -> Envelope:
    def s(v):
        return None if type(v) is Atom and v == b"NIL" else v.decode()

    def addrs(v):
        return () if type(v) is Atom and v == b"NIL" else tuple(Address(*map(s, a)) for a in v)
    return Envelope(s(value[0]), s(value[1]), *map(addrs, value[2:8]), s(value[8]), s(value[9]))


# IMAPClient reads keywords and header field names of these characters; some others of ATOM-CHAR
# ("[", "]") it takes for the start or end of a section.
plain_fields = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8)
plain_keywords = st.from_regex(r"\$?[A-Za-z0-9_.-]{1,8}", fullmatch=True)


@settings(max_examples=150)
@given(numbers, st.lists(st.one_of(system_flags, plain_keywords), max_size=4), numbers, st.integers(0, MAX_NUMBER64),
       date_times, envelopes, st.lists(st.tuples(st.builds(Section, parts, st.sampled_from([None, "HEADER", "TEXT"])) |
                                                 st.builds(Section, parts, st.just("HEADER.FIELDS"),
                                                           st.lists(plain_fields, min_size=1, max_size=2).map(tuple)),
                                                 st.none() | st.integers(0, 10**6), st.none() | st.binary(max_size=40)),
                                       max_size=3, unique_by=lambda t: (t[0], t[1])), st.booleans())
def test_fetch_responses_read_back(seq, flag_values, uid, size, when, envelope, bodies, utf8):
    items = [("FLAGS", r.flag_list(flag_values)), ("UID", r.number(uid)), ("RFC822.SIZE", r.number(size)),
             ("INTERNALDATE", fd.internal_date(when)), ("ENVELOPE", fd.encode_envelope(envelope, utf8=utf8))]
    expected_bodies = {}
    for section, origin, content in bodies:
        name = "BODY" + str(section) + ("" if origin is None else f"<{origin}>")
        items.append((name, r.NIL if content is None else r.literal(content)))
        expected_bodies[name.encode()] = content
    written = r.fetch(seq, items)
    # The reader written here.
    star, number, word, values = ResponseReader(written, sections=True).line()
    assert (star, number, word) == (Atom(b"*"), Atom(b"%d" % seq), Atom(b"FETCH"))
    got = dict(zip(values[::2], values[1::2]))
    assert len(got) == len(items)
    assert {f.decode() for f in got[Atom(b"FLAGS")]} == set(flag_values)
    assert (int(got[Atom(b"UID")]), int(got[Atom(b"RFC822.SIZE")])) == (uid, size)
    assert envelope_of(got[Atom(b"ENVELOPE")]) == envelope
    for name, content in expected_bodies.items():
        assert got[Atom(name)] == (Atom(b"NIL") if content is None else content)
    # IMAPClient's parser, as a client reads the same response (imaplib hands it the literals apart).
    chunks, rest = [], b"%d " % seq + written[len(b"* %d FETCH " % seq):-2]  # as imaplib hands it over
    while m := re.search(rb"\{(\d+)\}\r\n", rest):
        end = m.end() + int(m[1])
        chunks.append((rest[:m.start()] + b"{%d}" % int(m[1]), rest[m.end():end]))
        rest = rest[end:]
    parsed = imapclient.response_parser.parse_fetch_response(chunks + [rest], normalise_times=False,
                                                             uid_is_key=False)[seq]
    # IMAPClient gives a keyword of digits as a number, and item names in capitals.
    assert {f if isinstance(f, bytes) else b"%d" % f for f in parsed[b"FLAGS"]} == {f.encode() for f in flag_values}
    assert (parsed[b"UID"], parsed[b"RFC822.SIZE"]) == (uid, size)
    assert parsed[b"INTERNALDATE"] == when and parsed[b"INTERNALDATE"].utcoffset() == when.utcoffset()
    for name, content in expected_bodies.items():
        assert parsed[name.upper()] == content
