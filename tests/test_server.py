"""`postoffice serve`: starts on defaults, answers health checks, makes and keeps its certificate,
and stops cleanly on SIGINT and SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import urllib.request

from tests.conftest import POSTOFFICE, REPO, TEST_CONFIG, start_server, wait_for_listeners


def get_json(host: str, port: int, path: str) -> tuple[int, dict]:
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as r:
        return r.status, json.loads(r.read())


def test_healthz_answers_and_the_banner_lists_the_listener(server):
    host, port = server.listeners["http"]
    status, body = get_json(host, port, "/healthz")
    assert status == 200 and body["status"] == "ok" and body["hostname"] == "mail.example.test"
    assert re.search(rf"http\s+{host}:{port}", server.log())


def test_sigterm_and_sigint_stop_cleanly(tmp_path):
    for sig in (signal.SIGTERM, signal.SIGINT):
        s = start_server(tmp_path / f"data-{sig}", TEST_CONFIG)
        assert s.stop(sig) == 0
        assert "stopped" in s.log() and "Traceback" not in s.log()
        assert not (s.data_dir / "run" / "listeners.json").exists()


def test_self_signed_certificate_is_made_once_and_reused(tmp_path):
    data_dir = tmp_path / "data"
    first = start_server(data_dir, TEST_CONFIG)
    first.stop()
    cert = (data_dir / "tls" / "cert.pem").read_bytes()
    assert (data_dir / "tls" / "key.pem").stat().st_mode & 0o077 == 0  # the key is private
    loaded = ssl._ssl._test_decode_cert(str(data_dir / "tls" / "cert.pem"))  # type: ignore[attr-defined]
    assert ("DNS", "mail.example.test") in loaded["subjectAltName"]
    second = start_server(data_dir, TEST_CONFIG)
    second.stop()
    assert (data_dir / "tls" / "cert.pem").read_bytes() == cert


def test_a_port_in_use_is_one_line_and_nonzero(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = tmp_path / "c.toml"
        config.write_text(TEST_CONFIG.replace('http = "127.0.0.1:0"', f'http = "127.0.0.1:{port}"'))
        p = subprocess.run([POSTOFFICE, "serve", "--config", str(config), "--data-dir", str(tmp_path / "d")],
                           capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert p.stderr.strip().splitlines()[-1] == f"postoffice: listen.http: cannot listen on 127.0.0.1:{port}: Address already in use"


def readme_quick_start() -> tuple[str, str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Quick start.*?```(?:sh|bash)?\n(.*?)```", text, re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2, "the quick start is exactly two commands"
    serve = next(c for c in commands if "serve" in c)
    test = next(c for c in commands if "test" in c)
    return serve, test


def test_readme_run_command_starts_the_server_on_embedded_defaults(tmp_path):
    serve, test = readme_quick_start()
    assert ".ci/run" not in test
    assert test in (REPO / ".ci" / "run").read_text()  # CI calls README's test command
    data_dir = tmp_path / "data"
    env = {**os.environ, "POSTOFFICE_DATA": str(data_dir)}
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        # exec all the way down (./dev execs too), so the signal reaches the server itself
        p = subprocess.Popen(["bash", "-c", f"exec {serve}"], cwd=REPO, env=env, stdout=log,
                             stderr=subprocess.STDOUT)
    try:
        listeners = wait_for_listeners(data_dir, p, log_path, timeout=120)
        assert listeners["http"] == ("127.0.0.1", 8025)  # the embedded default
        assert get_json("127.0.0.1", 8025, "/healthz")[1]["status"] == "ok"
        assert (data_dir / "store.sqlite3").exists() and (data_dir / "tls" / "cert.pem").exists()
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
