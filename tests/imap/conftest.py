"""Fixtures of the IMAP tests beyond tests/conftest.py's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import TEST_CONFIG, provision, start_server


@pytest.fixture(scope="module")
def tls_required(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A server that takes no password before TLS (RFC 9051 §6.2.3) and logs out a silent client soon."""
    data_dir = tmp_path_factory.mktemp("tls") / "data"
    provision(data_dir)
    server = start_server(data_dir, TEST_CONFIG + '[imap]\nplaintext_auth = "never"\nidle_timeout_s = 4\n')
    try:
        yield server
    finally:
        server.stop()
