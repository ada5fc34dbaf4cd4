"""Round trips of commands: strategies make command values (wire/commands.py) and a client-side
encoder spells them as RFC 9051 §9 allows (wire_strategies.py); `parse_command` must give back an
equal value and use every byte, also with another command pipelined behind."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from postoffice.imap import responses as r
from postoffice.imap.wire import (
    All, And, Append, AppendMessage, Copy, Create, Date, Delete, encode_mutf7, Examine, Fetch, Flag,
    Header, List, Login, ModSeq, Move, Not, Or, parse_command, Rename, Search, Select, Sequence, Size,
    Status, Store, Subscribe, Text, UidExpunge, Unsubscribe,
)
from postoffice.imap.wire.commands import QResync
from postoffice.imap.wire.fetch import MACROS
from postoffice.imap.wire.parser import LIMITS, LIST_RETURN_OPTIONS, STATUS_ITEMS
from postoffice.imap.wire.search import RETURN_OPTIONS

from tests.imap.wire_strategies import (
    MAX_NUMBER64, SYSTEM_FLAGS, astring, atoms, attribute_text, date_text, date_time, date_times, dates,
    expected_mailbox, fetch_attributes, flag, flag_list, flags, joined, keyword, literal, mailbox,
    names, numbers, sequence_sets, system_flags, tags, text,
)


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
