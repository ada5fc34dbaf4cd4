"""Fuzz target: DATA and BDAT readers agree with themselves under any chunking and never raise."""

from _runner import run

from postoffice.smtp.data import ChunkReader, DataReader

SEEDS = [b"Subject: x\r\n\r\nhello\r\n.\r\n", b"..dot\r\n.\r\n", b"a\n.\nb\r\n.\r\n", b"x" * 1200 + b"\r\n.\r\n",
         b"\r\n.\r\n", b".\r\n"]


def target(data: bytes) -> None:
    whole, parts = [], []
    one = DataReader(whole.append, max_bytes=4096, max_line=998)
    used, end = one.feed(data)
    assert 0 <= used <= len(data)
    split = DataReader(parts.append, max_bytes=4096, max_line=998)
    cut = len(data) // 2
    u1, e1 = split.feed(data[:cut])
    e2 = e1 if e1 else split.feed(data[cut:])[1]
    assert (end is None) == (e2 is None) and b"".join(whole) == b"".join(parts)
    chunk = ChunkReader(lambda b: None, max_bytes=4096)
    chunk.begin(len(data), last=True)
    assert chunk.feed(data)[1] is not None


if __name__ == "__main__":
    run(target, SEEDS)
