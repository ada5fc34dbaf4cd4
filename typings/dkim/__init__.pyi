# dkimpy ships no types: the part of its API that postoffice.mta.dkim uses.
from collections.abc import Callable, Sequence
from logging import Logger
from typing import Protocol

from dkim.canonicalization import CanonicalizationPolicy

class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

# A TXT lookup: the name (with its final dot) to the record's value, or None.
_DnsFunc = Callable[..., bytes | str | None]

class DKIMException(Exception): ...
class MessageFormatError(DKIMException): ...

def rfc822_parse(message: bytes) -> tuple[list[list[bytes]], bytes]: ...
def hash_headers(hasher: _Hasher, canonicalize_headers: CanonicalizationPolicy,
                 headers: Sequence[Sequence[bytes]], include_headers: Sequence[bytes],
                 sigheader: tuple[bytes, bytes], sig: dict[bytes, bytes] | None) -> list[list[bytes]]: ...

class DomainSigner:
    headers: list[list[bytes]]
    body: bytes
    def __init__(self, message: bytes | None = None, logger: Logger | None = None,
                 signature_algorithm: bytes = ..., minkey: int = 1024, linesep: bytes = ...,
                 debug_content: bool = False, timeout: int = 5, tlsrpt: bool | str = False) -> None: ...
    def verify_sig(self, sig: dict[bytes, bytes], include_headers: list[bytes],
                   sig_header: tuple[bytes, bytes], dnsfunc: _DnsFunc) -> bool: ...

class DKIM(DomainSigner):
    def verify(self, idx: int = 0, dnsfunc: _DnsFunc = ...) -> bool: ...
