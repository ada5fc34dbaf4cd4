"""No accepted message is lost or doubled: the server is killed with SIGKILL under load."""

from __future__ import annotations

import random
import re
import signal
import smtplib
import threading
import time

from tests.conftest import TEST_CONFIG, inbox, provision, start_server

BODY = "From: dave@remote.test\r\nTo: bob@example.test\r\nSubject: {subject}\r\n\r\n" + ("x" * 76 + "\r\n") * 53


def sender(host: str, port: int, worker: int, count: int, acked: list[str], stop: threading.Event) -> None:
    try:
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            for i in range(count):
                if stop.is_set():
                    return
                subject = f"load {worker}-{i}"
                smtp.sendmail("dave@remote.test", ["bob@example.test"], BODY.format(subject=subject))
                acked.append(subject)  # sendmail returned: the server said 250
    except (smtplib.SMTPException, OSError):
        return  # the server died under us; what was not acknowledged is not owed


def test_sigkill_under_load_keeps_every_acknowledged_message_exactly_once(tmp_path):
    data_dir = tmp_path / "data"
    provision(data_dir)
    rng = random.Random(3)
    acked: list[str] = []
    for round_ in range(3):
        server = start_server(data_dir, TEST_CONFIG)
        host, port = server.listeners["smtp"]
        stop = threading.Event()
        threads = [threading.Thread(target=sender, args=(host, port, 100 * round_ + w, 20, acked, stop))
                   for w in range(10)]  # 10 connections x 20 messages = 200
        acked_before = len(acked)
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < acked_before + 20 and time.monotonic() < deadline:
            time.sleep(0.01)  # kill under load: once the load is flowing, at a random moment
        time.sleep(rng.uniform(0, 0.4))
        server.stop(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join()
    assert len(acked) >= 60, "too few messages were sent before the kills to prove anything"
    server = start_server(data_dir, TEST_CONFIG)  # the restart finishes interrupted deliveries
    try:
        messages = inbox(data_dir, "bob@example.test", expect=len(acked))
    finally:
        server.stop()
    subjects = [re.search(rb"Subject: (load [0-9-]+)", m)[1].decode() for m in messages]
    doubled = {s for s in subjects if subjects.count(s) > 1}
    assert not doubled, f"delivered twice: {sorted(doubled)[:5]}"
    missing = set(acked) - set(subjects)
    assert not missing, f"acknowledged but lost: {sorted(missing)[:5]}"
