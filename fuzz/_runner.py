"""Runs one fuzz target: with atheris (coverage-guided) when installed, else random mutations of
the seeds for a while. `python fuzz/NAME.py [-seconds N]`; a crash prints the input and exits 1."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable


def run(target: Callable[[bytes], None], seeds: list[bytes]) -> None:
    try:
        import atheris
    except ImportError:
        atheris = None
    if atheris is not None and "--random" not in sys.argv:
        atheris.Setup([a for a in sys.argv if a != "--random"], target)
        atheris.Fuzz()
        return
    seconds = float(sys.argv[sys.argv.index("-seconds") + 1]) if "-seconds" in sys.argv else 30.0
    rng = random.Random(0)
    deadline, count = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            op = rng.randrange(4)
            i = rng.randrange(len(data) + 1)
            if op == 0:
                data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            elif op == 1 and data:
                del data[i:i + rng.randint(1, 8)]
            elif op == 2:
                data[i:i] = rng.choice([b"\r\n", b"\n", b"\r", b".", b"\r\n.\r\n", b"{5}\r\n", b"=?utf-8?q?x?=", b"--b"])
            elif data:
                data[min(i, len(data) - 1)] = rng.randrange(256)
        try:
            target(bytes(data))
        except Exception:
            print(f"crash on input {bytes(data)!r}", file=sys.stderr)
            raise
        count += 1
    print(f"{count} inputs, no crash")
