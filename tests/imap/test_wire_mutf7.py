"""Modified UTF-7 mailbox names (RFC 3501 §5.1.3)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postoffice.imap.wire import decode_mutf7, encode_mutf7

# Unicode text without lone surrogates (which are not characters, so no name holds them).
names = st.text(st.characters(blacklist_categories=("Cs",)))


def test_rfc3501_example():
    # RFC 3501 §5.1.3: "~peter/mail/&U,BTFw-/&ZeVnLIqe-" is "~peter/mail/台北/日本語".
    assert decode_mutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-") == "~peter/mail/台北/日本語"
    assert encode_mutf7("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"


def test_ampersand_is_amp_dash():
    # RFC 3501 §5.1.3: "&" is represented by "&-".
    assert encode_mutf7("Tom & Jerry") == "Tom &- Jerry"
    assert decode_mutf7("Tom &- Jerry") == "Tom & Jerry"


def test_characters_outside_the_bmp_use_surrogate_pairs():
    assert decode_mutf7(encode_mutf7("Mail 📬")) == "Mail 📬"
    assert encode_mutf7("📬") == "&2D3c7A-"   # U+1F4EC is D83D DCEC in UTF-16


@pytest.mark.parametrize("wire", [
    "&AGE-",            # "a" encoded: printable ASCII MUST NOT be encoded
    "&U,BTFw-&ZeVnLIqe-",  # null shift between two runs
    "&U,BTFx-",         # non-zero padding bits
    "&U,BTF",           # not closed with "-"
    "&",
    "&*-",              # not modified BASE64
    "&2D0-",            # a lone high surrogate
    "caf\u00e9",        # raw 8-bit: must be encoded
    "tab\there",        # control characters must be encoded
    "&Jjo/-",           # "/" is not in the modified alphabet
])
def test_invalid_encodings_are_refused(wire):
    with pytest.raises(ValueError):
        decode_mutf7(wire)


def test_a_lone_surrogate_cannot_be_encoded():
    with pytest.raises(ValueError):
        encode_mutf7("\ud800")


@given(names)
def test_round_trip(name):
    wire = encode_mutf7(name)
    assert all(" " <= ch <= "~" for ch in wire)
    assert decode_mutf7(wire) == name


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e)))
def test_whatever_decodes_has_exactly_that_one_spelling(wire):
    try:
        name = decode_mutf7(wire)
    except ValueError:
        return
    assert encode_mutf7(name) == wire
