"""Paths and ESMTP parameters of MAIL FROM / RCPT TO, and the xtext codec of DSN parameters."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postoffice.smtp import replies
from postoffice.smtp.paths import NULL_PATH, Path, decode_xtext, encode_xtext, parse_params
from postoffice.smtp.wire import BadCommand, MailFrom, RcptTo, parse_command


def mail(arg: str, **kw):
    return parse_command(f"MAIL FROM:{arg}".encode(), **kw)


def rcpt(arg: str, **kw):
    return parse_command(f"RCPT TO:{arg}".encode(), **kw)


def code(result) -> tuple[int, str]:
    assert isinstance(result, BadCommand), result
    return result.reply.code, result.reply.status


# --- Null path and Postmaster --------------------------------------------------------------

def test_null_reverse_path():
    # RFC 5321 §4.1.1.2: MAIL FROM:<> for notifications (bounces)
    cmd = mail("<>")
    assert cmd == MailFrom("", {}, "", NULL_PATH)
    assert cmd.path.is_null


def test_null_forward_path_is_refused():
    # RFC 5321 §4.1.1.3: RCPT has no null path
    assert code(rcpt("<>")) == (501, "5.1.3")


@pytest.mark.parametrize("arg", ["<Postmaster>", "<postmaster>", "<POSTMASTER>"])
def test_postmaster_without_domain_is_a_recipient(arg):
    # RFC 5321 §4.1.1.3: "<Postmaster>" must be accepted, case-insensitively (§2.4)
    cmd = rcpt(arg)
    assert cmd == RcptTo("postmaster", {}, "", Path("postmaster", ""))
    assert cmd.path.domain == ""


def test_postmaster_without_domain_is_not_a_sender():
    # RFC 5321 §4.1.2: a reverse-path Mailbox has a domain; only RCPT has the special case
    assert code(mail("<Postmaster>")) == (501, "5.1.7")


def test_postmaster_with_domain_is_an_ordinary_path():
    assert rcpt("<postmaster@example.test>") == RcptTo("postmaster@example.test")


def test_local_part_without_domain_is_refused():
    assert code(rcpt("<alice>")) == (501, "5.1.3")


# --- Source routes: RFC 5321 §4.1.2 A-d-l, Appendix C ------------------------------------------

def test_source_route_is_reported_not_mistaken_for_the_mailbox():
    cmd = rcpt("<@a.example,@b.example:user@c.example>")
    assert (cmd.address, cmd.source_route) == ("user@c.example", "@a.example,@b.example")
    cmd = mail("<@relay.example:alice@example.test> SIZE=10")
    assert (cmd.address, cmd.source_route, cmd.params) == ("alice@example.test", "@relay.example", {"SIZE": "10"})


@pytest.mark.parametrize("arg", ["<@a.example:>", "<@a.example>", "<@:u@c.example>", "<@a.example,b.example:u@c.example>",
                                 "<@a.example;u@c.example>", "<@[192.0.2.1]:u@c.example>"])
def test_malformed_source_route(arg):
    assert code(rcpt(arg)) == (501, "5.1.3")


# --- Local parts: Dot-string or Quoted-string ----------------------------------------------------

def test_dot_string_local_part_with_all_atext():
    # RFC 5321 §4.1.2 Dot-string = Atom *("." Atom), RFC 5322 §3.2.3 atext
    local = "a.b!#$%&'*+-/=?^_`{|}~c"
    assert rcpt(f"<{local}@example.test>").address == f"{local}@example.test"


@pytest.mark.parametrize("local", [".a", "a.", "a..b", "a b", "a,b", "a[b", "a:b"])
def test_bad_dot_string(local):
    assert code(rcpt(f"<{local}@example.test>")) == (501, "5.1.3")


def test_quoted_local_part_with_at_sign_is_kept_as_it_came():
    # RFC 5321 §4.1.2 Quoted-string; the "@" inside the quotes does not split the address
    cmd = rcpt('<"john@doe"@example.test>')
    assert cmd.address == '"john@doe"@example.test'
    assert cmd.path == Path('"john@doe"', "example.test", quoted=True)
    assert cmd.path.unquoted_local == "john@doe"


def test_quoted_local_part_with_quoted_pairs_and_angle_bracket():
    # quoted-pairSMTP = "\" %d32-126; a ">" inside quotes does not end the path
    cmd = rcpt(r'<"a\"b>c d"@example.test> NOTIFY=NEVER')
    assert cmd.path.local == r'"a\"b>c d"'
    assert cmd.path.unquoted_local == 'a"b>c d'
    assert cmd.params == {"NOTIFY": "NEVER"}


@pytest.mark.parametrize("arg", ['<"abc@example.test>', '<"a"b@example.test>', '<"a\\', '<"a\\\u00e9"@example.test>'])
def test_bad_quoted_string(arg):
    assert code(rcpt(arg, smtputf8=True)) == (501, "5.1.3")


# --- Domains and address literals: RFC 5321 §4.1.2, §4.1.3 -------------------------------------

@pytest.mark.parametrize("domain", ["example.test", "a", "x-1.example", "1.2.3", "[192.0.2.1]", "[0.0.0.0]",
                                    "[IPv6:2001:db8::1]", "[ipv6:::1]", "[IPv6:::ffff:192.0.2.1]"])
def test_good_domains_and_address_literals(domain):
    assert rcpt(f"<u@{domain}>").path.domain == domain


@pytest.mark.parametrize("domain", ["-a.example", "a-.example", "example.test.", "a..b", "a_b.example", "[192.0.2.256]",
                                    "[192.0.2]", "[IPv6:1::2::3]", "[IPv6:fe80::1%eth0]", "[tag:content]", "[]",
                                    "[192.0.2.1", ""])
def test_bad_domains_and_address_literals(domain):
    # General-address-literal refused: RFC 5321 §4.1.3, no registered tag but IPv6 (paths.py docstring)
    assert code(rcpt(f"<u@{domain}>")) == (501, "5.1.3")


# --- UTF-8: RFC 6531 §3.3-3.5 ---------------------------------------------------------------

def test_utf8_sender_needs_smtputf8_offered_and_requested():
    # RFC 6531 §3.4: the client asks with the SMTPUTF8 parameter, on a server that offers it
    line = "<jürgen@bücher.example> SMTPUTF8"
    assert mail(line, smtputf8=True).address == "jürgen@bücher.example"
    assert code(mail(line, smtputf8=False)) == (550, "5.6.7")                         # §3.5: MAIL gives 550
    assert code(mail("<jürgen@bücher.example>", smtputf8=True)) == (550, "5.6.7")


def test_utf8_recipient_needs_an_smtputf8_transaction():
    assert rcpt("<δοκιμή@παράδειγμα.δοκιμή>", smtputf8=True).address == "δοκιμή@παράδειγμα.δοκιμή"
    assert code(rcpt("<δοκιμή@example.test>")) == (553, "5.6.7")                   # §3.5: RCPT gives 553


def test_utf8_in_a_quoted_local_part():
    assert rcpt('<"jü rgen"@example.test>', smtputf8=True).path.quoted


def test_utf8_in_a_parameter_value_without_smtputf8():
    assert code(rcpt("<a@example.test> X-NOTE=é")) == (501, "5.5.4")
    assert rcpt("<a@example.test> X-NOTE=é", smtputf8=True).params == {"X-NOTE": "é"}


# --- Lengths: RFC 5321 §4.5.3.1.1-3 ----------------------------------------------------------

def test_path_of_256_octets_is_accepted_and_257_refused():
    domain = ".".join(["a" * 60] * 3) + "." + "b" * 50       # 233 octets
    local = "l" * (256 - 2 - 1 - len(domain))                 # "<" local "@" domain ">"
    assert len(f"<{local}@{domain}>") == 256
    assert rcpt(f"<{local}@{domain}>").path.local == local
    assert code(rcpt(f"<{local}x@{domain}>")) == (501, "5.1.3")
    assert code(mail(f"<{local}x@{domain}>")) == (501, "5.1.7")


def test_path_length_counts_octets_not_characters():
    local = "é" * 64                                          # 128 octets in UTF-8
    assert code(rcpt(f"<{local}@example.test>", smtputf8=True)) == (501, "5.1.3")


def test_local_part_of_65_octets_is_refused():
    assert rcpt(f"<{'a' * 64}@example.test>").path.local == "a" * 64
    assert code(rcpt(f"<{'a' * 65}@example.test>")) == (501, "5.1.3")
    assert code(mail(f"<{'a' * 65}@example.test>")) == (501, "5.1.7")


# --- ESMTP parameters: RFC 5321 §4.1.2 esmtp-param -------------------------------------------

def test_parameters_keywords_upper_cased_values_normalised():
    cmd = mail("<a@example.test> size=123 body=8bitmime ret=hdrs envid=QQ+2B1 auth=<> smtputf8 x-custom=Yes",
               smtputf8=True)
    assert cmd.params == {"SIZE": "123", "BODY": "8BITMIME", "RET": "HDRS", "ENVID": "QQ+1", "AUTH": "<>",
                          "SMTPUTF8": None, "X-CUSTOM": "Yes"}


def test_rcpt_dsn_parameters():
    # RFC 3461 §4.1 NOTIFY, §4.2 ORCPT = addr-type ";" xtext (decoded here)
    cmd = rcpt("<b@example.test> NOTIFY=success,FAILURE,Delay ORCPT=rfc822;b+2Bx@example.test")
    assert cmd.params == {"NOTIFY": "SUCCESS,FAILURE,DELAY", "ORCPT": "rfc822;b+x@example.test"}


def test_auth_parameter_is_xtext_decoded():
    # RFC 4954 §5: AUTH=xtext
    assert mail("<a@example.test> AUTH=alice+2Bsub@example.test").params == {"AUTH": "alice+sub@example.test"}


def test_unknown_parameters_are_left_to_the_session():
    # RFC 5321 §4.1.1.11: the session answers 555 for what it does not offer; the parser reports
    assert rcpt("<b@example.test> XFOO XBAR=1").params == {"XFOO": None, "XBAR": "1"}


def test_duplicate_parameter_is_refused():
    assert code(mail("<a@example.test> SIZE=1 size=2")) == (501, "5.5.4")
    assert code(mail("<a@example.test> XFOO XFOO")) == (501, "5.5.4")


@pytest.mark.parametrize("params", ["=x", "SIZE=", "NOTIFY=", "-X=1", "X_Y=1", "A=b=c"])
def test_malformed_parameter(params):
    # RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
    # esmtp-value = 1*(%d33-60 / %d62-126): not empty, no "=", SP or controls
    assert parse_params(params) == replies.PARAM_NOT_RECOGNISED
    assert code(mail(f"<a@example.test> {params}")) == (555, "5.5.4")


def test_parameter_value_with_a_control_character():
    assert parse_params("K=\x7f") == replies.PARAM_NOT_RECOGNISED
    assert code(mail("<a@example.test> K=\x7f")) == (501, "5.5.4")   # refused for the whole line first


@pytest.mark.parametrize("params", [
    "SIZE=abc", "SIZE=-1", "SIZE=" + "9" * 21, "SIZE",                 # RFC 1870 §3: 1*20DIGIT
    "BODY=9BIT", "BODY",                                               # RFC 6152 §2, RFC 3030 §3
    "RET=ALL",                                                         # RFC 3461 §4.3
    "NOTIFY=NEVER,SUCCESS", "NOTIFY=SOMETIMES", "NOTIFY=SUCCESS,,DELAY",  # RFC 3461 §4.1
    "ENVID=a+2", "ENVID=a+0Ab", "ENVID=" + "x" * 101,                  # RFC 3461 §4.4
    "ORCPT=b@example.test", "ORCPT=;b@example.test", "ORCPT=rfc822;a+ZZ",  # RFC 3461 §4.2
    "SMTPUTF8=yes",                                                    # RFC 6531 §3.4
    "AUTH=a+GG",                                                       # RFC 4954 §5
])
def test_bad_values_of_known_parameters(params):
    assert code(rcpt(f"<a@example.test> {params}")) == (501, "5.5.4")


def test_parameters_may_be_separated_by_several_spaces():
    assert mail("<a@example.test>  SIZE=1   BODY=7BIT").params == {"SIZE": "1", "BODY": "7BIT"}


# --- xtext: RFC 3461 §4 -----------------------------------------------------------------------

def test_xtext_examples():
    assert encode_xtext("a+b=c d") == "a+2Bb+3Dc+20d"
    assert decode_xtext("a+2Bb+3Dc+20d") == "a+b=c d"
    assert decode_xtext("") == ""
    assert decode_xtext("+2b") == "+"                                  # lenient: lower-case hex


@pytest.mark.parametrize("text", ["a b", "a+", "a+2", "+G0", "a=b", "é", "a\x00"])
def test_invalid_xtext(text):
    assert decode_xtext(text) is None


@given(st.text())
def test_xtext_round_trip(value):
    encoded = encode_xtext(value)
    assert all(33 <= ord(c) <= 126 for c in encoded) and "=" not in encoded
    assert decode_xtext(encoded) == value


@given(st.binary())
def test_xtext_round_trip_of_any_octets(octets):
    value = octets.decode("utf-8", "surrogateescape")
    assert decode_xtext(encode_xtext(value)).encode("utf-8", "surrogateescape") == octets


# --- Generated paths: what a client writes, the parser reads back -----------------------------

_ATEXT = "abcXYZ019!#$%&'*+-/=?^_`{|}~"
atoms = st.text(alphabet=_ATEXT, min_size=1, max_size=8)
labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)


@given(st.lists(atoms, min_size=1, max_size=4), st.lists(labels, min_size=1, max_size=4),
       st.dictionaries(st.from_regex(r"X-[A-Z0-9]{1,5}", fullmatch=True),
                       st.none() | st.from_regex(r"[!-<>-~]{1,10}", fullmatch=True), max_size=3))
def test_generated_paths_and_parameters_read_back(atom_list, label_list, params):
    address = ".".join(atom_list) + "@" + ".".join(label_list)
    line = f"<{address}>" + "".join(f" {k}" if v is None else f" {k}={v}" for k, v in params.items())
    cmd = rcpt(line)
    assert cmd == RcptTo(address, params)
    assert Path.from_address(address) == cmd.path
