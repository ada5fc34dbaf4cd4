"""The message data: the DATA phase (dot-stuffing, the end, the smuggling defence) and BDAT chunks."""

from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postoffice.smtp import data as data_module
from postoffice.smtp import replies
from postoffice.smtp.data import MAX_LINE, ChunkEnd, ChunkReader, DataEnd, DataError, DataReader, encode_data


class Sink:
    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.pieces.append(bytes(data))

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)


def read_data(chunks, *, max_bytes=10_000, max_line=MAX_LINE):
    """Feeds `chunks` to a fresh DataReader: (bytes used, the event, what the sink got)."""
    sink = Sink()
    reader = DataReader(sink, max_bytes=max_bytes, max_line=max_line)
    used_total, event = 0, None
    for chunk in chunks:
        used, event = reader.feed(chunk)
        assert 0 <= used <= len(chunk)
        used_total += used
        if event is not None:
            break
        assert used == len(chunk)                    # everything is used until the end
    return used_total, event, sink.data


def split_at(data: bytes, points) -> list[bytes]:
    points = sorted({p % (len(data) + 1) for p in points})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


# --- Dot-stuffing and the end: RFC 5321 §4.1.1.4, §4.5.2 ----------------------------------------

def test_message_ends_at_crlf_dot_crlf_and_the_rest_is_not_used():
    used, event, data = read_data([b"Subject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n"])
    assert event == DataEnd(None, len(b"Subject: hi\r\n\r\nhello\r\n"))
    assert data == b"Subject: hi\r\n\r\nhello\r\n"
    assert used == len(b"Subject: hi\r\n\r\nhello\r\n.\r\n")


def test_empty_message():
    # RFC 5321 §4.1.1.4: the CRLF of the DATA line is the first CRLF of the end sequence
    assert read_data([b".\r\nQUIT\r\n"]) == (3, DataEnd(None, 0), b"")


@pytest.mark.parametrize("wire, content", [
    (b"..\r\n.\r\n", b".\r\n"),                                  # a line of one "."
    (b"...\r\n.\r\n", b"..\r\n"),
    (b"..hidden\r\nnot.stuffed\r\n.\r\n", b".hidden\r\nnot.stuffed\r\n"),
    (b"a\r\n..b\r\n..\r\n.\r\n", b"a\r\n.b\r\n.\r\n"),
    (b"a.\r\n. \r\n.\r\n", b"a.\r\n \r\n"),                     # "." then text: the dot is removed
])
def test_dot_unstuffing(wire, content):
    # RFC 5321 §4.5.2: a leading "." is removed, from the very first line on
    used, event, data = read_data([wire])
    assert (used, event, data) == (len(wire), DataEnd(None, len(content)), content)


def test_end_split_at_every_position_across_two_feeds():
    # RFC 5321 §4.1.1.4: the end is found whatever the reads; every dot is handled at every boundary
    wire = b"..first\r\nsecond\r\n.\r\n"
    for k in range(len(wire) + 1):
        used, event, data = read_data([wire[:k], wire[k:] + b"NOOP\r\n"])
        assert (used, event, data) == (len(wire), DataEnd(None, 16), b".first\r\nsecond\r\n"), k


def test_every_byte_fed_alone():
    wire = b"a\r\n..b\r\n\r\n.\r\n"
    assert read_data([bytes([b]) for b in wire + b"QUIT"]) == (len(wire), DataEnd(None, 9), b"a\r\n.b\r\n\r\n")


def test_feeding_after_the_end_uses_nothing():
    reader = DataReader(Sink(), max_bytes=100)
    assert reader.feed(b".\r\n") == (3, DataEnd(None, 0))
    assert reader.feed(b"more") == (0, None)


def test_an_empty_feed_uses_nothing():
    reader = DataReader(Sink(), max_bytes=100)
    assert reader.feed(b"") == (0, None)
    assert reader.feed(b"x\r\n.\r\n") == (6, DataEnd(None, 3))


def test_a_bytearray_or_memoryview_may_be_fed():
    assert read_data([bytearray(b"a\r\n"), memoryview(b"b\r\n.\r\n")]) == (9, DataEnd(None, 6), b"a\r\nb\r\n")


# --- Bare CR and LF: RFC 5321 §2.3.8, §4.1.1.4 (the SMTP smuggling defence) ----------------------

SMUGGLED = b"MAIL FROM:<ceo@example.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nforged\r\n"


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r"])
def test_fake_end_of_data_does_not_end_it(fake_end):
    # only CRLF "." CRLF ends the data; a bare CR or LF is refused, and what follows the fake end is
    # still message data, never commands
    wire = b"Subject: hi\r\n\r\nhello" + fake_end + SMUGGLED + b".\r\n"
    for chunks in ([wire + b"QUIT\r\n"], [bytes([b]) for b in wire + b"QUIT"]):
        used, event, data = read_data(chunks)
        assert used == len(wire)
        assert event.error is DataError.BARE_LINE_ENDING
        assert b"MAIL FROM" not in data                       # nothing written after the error


@pytest.mark.parametrize("wire", [b"a\nb\r\n.\r\n", b"a\rb\r\n.\r\n", b"a\r\r\n.\r\n", b"\n.\r\n.\r\n", b"a\r\n\r.\r\n.\r\n",
                                  b"a\n\r\n.\r\n", b".\r.\r\n.\r\n", b".\n\r\n.\r\n"])
def test_bare_cr_or_lf_anywhere_is_an_error(wire):
    used, event, data = read_data([wire])
    assert used == len(wire) and event.error is DataError.BARE_LINE_ENDING
    assert event.error.reply == replies.BARE_LINE_ENDING


def test_only_the_data_before_a_bare_line_ending_is_written():
    used, event, data = read_data([b"good\r\nba", b"d\nmore\r\n.\r\n"])
    assert data == b"good\r\nbad" and event == DataEnd(DataError.BARE_LINE_ENDING, 9)


# --- Limits: RFC 5321 §4.5.3.1.6 (text line), §4.5.3.1.7 and RFC 1870 (size) ---------------------

def test_line_of_998_octets_is_accepted_and_999_refused():
    ok = b"x" * 998 + b"\r\n"
    assert read_data([ok + b".\r\n"])[1] == DataEnd(None, 1000)
    used, event, data = read_data([b"x" * 999 + b"\r\nnext\r\n.\r\n"])
    assert event == DataEnd(DataError.LINE_TOO_LONG, 998) and data == b"x" * 998
    assert event.error.reply == replies.DATA_LINE_TOO_LONG


def test_line_length_is_of_the_unstuffed_line():
    # the stuffed dot is transparency (RFC 5321 §4.5.2), not part of the 998 octets of the message line
    assert read_data([b"." + b"." * 998 + b"\r\n.\r\n"])[1] == DataEnd(None, 1000)


def test_line_too_long_across_feeds():
    used, event, data = read_data([b"x" * 500, b"x" * 500, b"\r\n.\r\n"], max_line=998)
    assert event.error is DataError.LINE_TOO_LONG


def test_too_big_stops_writing_at_the_limit_and_reads_to_the_end():
    sink = Sink()
    reader = DataReader(sink, max_bytes=10)
    assert reader.feed(b"0123456789") == (10, None)
    assert reader.feed(b"abc\r\n") == (5, None)
    written = len(sink.data)
    assert reader.feed(b"x" * 100_000 + b"\r\n") == (100_002, None)
    assert reader.feed(b".\r\nQUIT\r\n") == (3, DataEnd(DataError.TOO_BIG, 10))
    assert sink.data == b"0123456789" and written == 10             # nothing written after the limit
    assert DataError.TOO_BIG.reply == replies.MESSAGE_TOO_BIG


def test_message_of_exactly_the_size_limit():
    assert read_data([b"12345678\r\n.\r\n"], max_bytes=10)[1] == DataEnd(None, 10)
    assert read_data([b"123456789\r\n.\r\n"], max_bytes=10)[1] == DataEnd(DataError.TOO_BIG, 10)


def test_first_error_is_reported():
    assert read_data([b"a\nb" + b"x" * 2000 + b"\r\n.\r\n"])[1].error is DataError.BARE_LINE_ENDING
    assert read_data([b"x" * 2000 + b"\nb\r\n.\r\n"])[1].error is DataError.LINE_TOO_LONG


def test_large_message_in_large_reads():
    # linear in the input: many lines, and long runs of bare CRs (no LF to find for a while)
    body = (b"y" * 78 + b"\r\n") * 50_000 + b"\r" * 200_000 + b"\r\n"
    wire = encode_data(body)
    chunks = [wire[i:i + 65536] for i in range(0, len(wire), 65536)]
    used, event, data = read_data(chunks, max_bytes=10**8)
    assert used == len(wire) and event.error is DataError.BARE_LINE_ENDING


# --- Properties -------------------------------------------------------------------------------

def check_octet_by_octet(content: bytes, max_bytes: int, max_line: int):
    """RFC 5321 §2.3.8, §4.5.3.1.6 and the size limit, one octet at a time: (first error, octets kept)."""
    out, line, i = bytearray(), 0, 0
    while i < len(content):
        if content[i:i + 2] == b"\r\n":
            piece, line = b"\r\n", 0
        elif content[i] in b"\r\n":
            return DataError.BARE_LINE_ENDING, bytes(out)
        elif line == max_line:
            return DataError.LINE_TOO_LONG, bytes(out)
        else:
            piece, line = content[i:i + 1], line + 1
        if len(out) + len(piece) > max_bytes:
            return DataError.TOO_BIG, bytes(out + piece[:max_bytes - len(out)])
        out += piece
        i += len(piece)
    return None, bytes(out)


def reference(stream: bytes, max_bytes: int, max_line: int):
    """RFC 5321 §4.1.1.4 and §4.5.2 read plainly: the data is what precedes the first CRLF "." CRLF
    of the stream after the DATA command's CRLF, and a "." starting a line is removed."""
    v = b"\r\n" + stream
    end = v.find(b"\r\n.\r\n")
    if end < 0:
        return None
    content = v[:end + 2].replace(b"\r\n.", b"\r\n")[2:]
    return (end + 3, *check_octet_by_octet(content, max_bytes, max_line))


pieces = st.lists(st.sampled_from([b"\r", b"\n", b".", b"a", b"bc", b"\r\n", b"\r\n.", b"\r\n.\r\n", b"..", b"\r\n..",
                                   b"x" * 7]), max_size=40).map(b"".join)
limits = st.tuples(st.integers(min_value=0, max_value=60), st.integers(min_value=0, max_value=12))


@settings(max_examples=400)
@given(pieces | st.binary(max_size=200), st.lists(st.integers(min_value=0, max_value=300), max_size=6), limits)
def test_any_chunking_gives_the_same_result_as_one_feed(stream, points, limit):
    max_bytes, max_line = limit
    whole = read_data([stream], max_bytes=max_bytes, max_line=max_line)
    assert read_data(split_at(stream, points), max_bytes=max_bytes, max_line=max_line) == whole
    assert len(whole[2]) <= max_bytes


@given(pieces, limits, st.integers(min_value=1, max_value=5))
def test_content_checked_in_small_blocks_gives_the_same_result(stream, limit, block):
    # the block-at-a-time check (data.py) must not depend on where blocks split lines or CRLFs
    max_bytes, max_line = limit
    whole = read_data([stream], max_bytes=max_bytes, max_line=max_line)
    chunked = read_chunks([(stream, True)], max_bytes=max_bytes, max_line=max_line)
    with mock.patch.object(data_module, "_BLOCK", block):
        assert read_data([stream], max_bytes=max_bytes, max_line=max_line) == whole
        assert read_chunks([(stream, True)], max_bytes=max_bytes, max_line=max_line) == chunked


@settings(max_examples=500)
@given(pieces | st.binary(max_size=100), limits)
def test_reader_agrees_with_the_plain_reading_of_the_rfc(stream, limit):
    max_bytes, max_line = limit
    used, event, data = read_data([stream], max_bytes=max_bytes, max_line=max_line)
    expected = reference(stream, max_bytes, max_line)
    if expected is None:
        assert event is None and used == len(stream)
    else:
        end, error, content = expected
        assert (used, event, data) == (end, DataEnd(error, len(content)), content)


crlf_clean_lines = st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
                            max_size=20)


@given(crlf_clean_lines, st.lists(st.integers(min_value=0, max_value=700), max_size=4))
def test_dot_stuffing_round_trip(lines, points):
    # RFC 5321 §4.5.2: what a client stuffs, the server unstuffs back to the same message
    message = b"".join(line + b"\r\n" for line in lines)
    wire = encode_data(message)
    assert wire.endswith(b"\r\n.\r\n") or wire == b".\r\n"
    used, event, data = read_data(split_at(wire + b"QUIT\r\n", points), max_bytes=len(message), max_line=30)
    assert (used, event, data) == (len(wire), DataEnd(None, len(message)), message)


def test_encode_data_ends_an_unfinished_last_line():
    assert encode_data(b"") == b".\r\n"
    assert encode_data(b".a\r\nb") == b"..a\r\nb\r\n.\r\n"


# --- BDAT chunks: RFC 3030 §2-3 ----------------------------------------------------------------

def read_chunks(chunks, *, reads=None, max_bytes=10_000, max_line=MAX_LINE, binary=False):
    """Feeds each (octets, last) chunk, announced then read in `reads`-sized pieces: events and sink."""
    sink = Sink()
    reader = ChunkReader(sink, max_bytes=max_bytes, max_line=max_line, binary=binary)
    events = []
    for octets, last in chunks:
        reader.begin(len(octets), last)
        wire = octets + b"NEXT"
        pos, event = 0, None
        while event is None:
            piece = wire[pos:pos + (reads or len(wire))]
            used, event = reader.feed(piece)
            pos += used
        assert pos == len(octets)                          # exactly the announced octets
        events.append(event)
    return events, sink.data


def test_crlf_split_across_chunks_is_one_line_end():
    events, data = read_chunks([(b"abc\r", False), (b"\ndef\r\n", True)])
    assert events == [ChunkEnd(False, None, 3), ChunkEnd(True, None, 10)]
    assert data == b"abc\r\ndef\r\n"


def test_chunks_are_not_dot_unstuffed():
    # RFC 3030 §2: BDAT data is sent as it is; no dot-stuffing, no end marker
    events, data = read_chunks([(b"..a\r\n.\r\n", True)])
    assert data == b"..a\r\n.\r\n" and events[-1].is_clean


@pytest.mark.parametrize("chunks", [
    [(b"a\nb\r\n", True)],
    [(b"a\r", False), (b"b\r\n", True)],                   # the CR of one chunk before a non-LF
    [(b"a\r\n", False), (b"\n", True)],
    [(b"a\r", True)],                                      # the message ends in a bare CR
    [(b"a\r", False), (b"", True)],
])
def test_bare_line_endings_across_chunks(chunks):
    events, _ = read_chunks(chunks)
    assert events[-1].error is DataError.BARE_LINE_ENDING


def test_line_length_is_carried_across_chunks():
    events, _ = read_chunks([(b"x" * 600, False), (b"x" * 398 + b"\r\n", False), (b"x" * 999, True)])
    assert [e.error for e in events] == [None, None, DataError.LINE_TOO_LONG]
    events, _ = read_chunks([(b"x" * 600, False), (b"x" * 399 + b"\r\n", True)])
    assert events[-1].error is DataError.LINE_TOO_LONG


def test_size_is_carried_across_chunks_and_nothing_written_after_it():
    events, data = read_chunks([(b"12345\r\n", False), (b"67890\r\n", True)], max_bytes=10)
    assert [e.error for e in events] == [None, DataError.TOO_BIG]
    assert data == b"12345\r\n678"


def test_zero_octet_last_chunk():
    # RFC 3030 §2: "BDAT 0 LAST" ends a message
    reader = ChunkReader(Sink(), max_bytes=100)
    reader.begin(0, True)
    assert reader.feed(b"") == (0, ChunkEnd(True, None, 0))
    assert reader.done


def test_chunks_read_in_small_pieces():
    chunks = [(b"Subject: x\r", False), (b"\n\r\nbody\r\n", True)]
    assert read_chunks(chunks, reads=1) == read_chunks(chunks)


def test_binarymime_chunks_have_no_line_rules_but_a_size():
    # RFC 3030 §3: BODY=BINARYMIME content is octets, not lines
    events, data = read_chunks([(b"\x00\r\n\r" + b"x" * 2000, False), (b"\n\xff", True)], binary=True)
    assert events[-1].is_clean and data == b"\x00\r\n\r" + b"x" * 2000 + b"\n\xff"
    events, data = read_chunks([(b"\n" * 20, True)], binary=True, max_bytes=8)
    assert events[-1].error is DataError.TOO_BIG and data == b"\n" * 8


def test_discarded_chunk_is_read_and_dropped():
    # RFC 3030 §2: after a refusal the announced octets are still on the wire; they are read, not parsed
    sink = Sink()
    reader = ChunkReader(sink, max_bytes=0)
    reader.begin(10, False, discard=True)
    assert reader.feed(b"bare\nLF\r\n\rBDAT") == (10, ChunkEnd(False, None, 0, discarded=True))
    assert sink.data == b"" and reader.feed(b"BDAT") == (0, None)   # outside a chunk, nothing is used


def test_feed_outside_a_chunk_uses_nothing():
    reader = ChunkReader(Sink(), max_bytes=100)
    assert reader.feed(b"abc") == (0, None)


@settings(max_examples=300)
@given(st.lists(st.tuples(pieces, st.booleans()), min_size=1, max_size=5), st.integers(min_value=1, max_value=9),
       limits)
def test_chunk_reader_checks_the_whole_message_whatever_the_chunks(chunks, reads, limit):
    max_bytes, max_line = limit
    chunks = [(octets, False) for octets, _ in chunks[:-1]] + [(chunks[-1][0], True)]
    message = b"".join(octets for octets, _ in chunks)
    events, data = read_chunks(chunks, reads=reads, max_bytes=max_bytes, max_line=max_line)
    assert (events, data) == read_chunks(chunks, max_bytes=max_bytes, max_line=max_line)
    one_events, one_data = read_chunks([(message, True)], max_bytes=max_bytes, max_line=max_line)
    assert (one_events[-1], one_data) == (events[-1], data)
    error, kept = check_octet_by_octet(message, max_bytes, max_line)
    assert (events[-1].error, data) == (error, kept)
