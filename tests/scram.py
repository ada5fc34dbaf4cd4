"""SCRAM clients for the protocol tests: SCRAM-SHA-256 (RFC 5802 §3, RFC 7677) written from the RFC,
and SCRAM-SHA-256-PLUS from scramp, the library the server uses, with the channel binding computed
on the client's side of the TLS connection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import ssl

import scramp


class ScramClient:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.first_bare = f"n={user},r={secrets.token_urlsafe(18)}"
        self.expected_server_signature = b""

    def first(self) -> bytes:
        return f"n,,{self.first_bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        text = server_first.decode()
        fields = dict(item.split("=", 1) for item in text.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        final_bare = f"c=biws,r={fields['r']}"
        auth_message = f"{self.first_bare},{text},{final_bare}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature))).decode()
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self.expected_server_signature = b"v=" + base64.b64encode(hmac.digest(server_key, auth_message, "sha256"))
        return f"{final_bare},p={proof}".encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plus_client(user: str, password: str, tls_sock: ssl.SSLSocket, *,
                binding: bytes | None = None) -> scramp.ScramClient:
    """A SCRAM-SHA-256-PLUS client (scramp's) bound to the certificate `tls_sock` was shown
    (RFC 5929 tls-server-end-point); `binding` replaces that, to play a man in the middle."""
    return scramp.ScramClient(["SCRAM-SHA-256-PLUS"], user, password,
                              channel_binding=("tls-server-end-point", binding or tls_sock))
