"""Domain, user and alias administration through the real `postoffice` command."""

from __future__ import annotations

import json
import sqlite3


def test_domain_add_list_del(cli):
    assert cli("domain", "add", "Example.TEST").code == 0
    assert cli("domain", "add", "second.test").code == 0
    r = cli("domain", "list")
    assert (r.code, r.out.split()) == (0, ["example.test", "second.test"])
    assert cli("domain", "del", "second.test").code == 0
    assert cli("domain", "list").out.split() == ["example.test"]


def test_domain_refusals_are_one_line_and_nonzero(cli):
    cli("domain", "add", "example.test")
    for args, words in [
        (("domain", "add", "example.test"), "exists"),
        (("domain", "add", "not a domain"), "not a domain"),
        (("domain", "add", "bad-.test"), "not a domain"),
        (("domain", "add", "a..b.test"), "not a domain"),
        (("domain", "del", "nowhere.test"), "not a local domain"),
    ]:
        r = cli(*args)
        assert r.code == 1, args
        assert r.err.count("\n") == 1 and words in r.err and "Traceback" not in r.err, r.err


def test_user_add_list_passwd_del(cli, data_dir):
    cli("domain", "add", "example.test")
    assert cli("user", "add", "Alice@Example.test", "--password-stdin", stdin="s3cret\n").code == 0
    assert cli("user", "add", "bob@example.test", "--password-stdin", stdin="hunter2\n").code == 0
    assert cli("user", "list").out.split() == ["alice@example.test", "bob@example.test"]
    assert cli("user", "passwd", "alice@example.test", "--password-stdin", stdin="n3w\n").code == 0
    assert cli("user", "del", "bob@example.test").code == 0
    assert cli("user", "list").out.split() == ["alice@example.test"]
    # never in clear: the stored form is Argon2id plus SCRAM-SHA-256 verifiers
    with sqlite3.connect(data_dir / "store.sqlite3") as db:
        [(stored,)] = db.execute("SELECT credentials FROM accounts").fetchall()
    assert "n3w" not in stored and "s3cret" not in stored
    creds = json.loads(stored)
    assert any(str(v).startswith("$argon2id$") for v in creds.values())
    # a user is made with the standard mailboxes
    with sqlite3.connect(data_dir / "store.sqlite3") as db:
        names = sorted(r[0] for r in db.execute("SELECT name FROM mailboxes"))
    assert names == ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]


def test_passwd_changes_what_verifies(cli, data_dir):
    from postoffice.auth.passwords import decode_credentials, verify_password

    cli("domain", "add", "example.test")
    cli("user", "add", "alice@example.test", "--password-stdin", stdin="old-pass\n")
    cli("user", "passwd", "alice@example.test", "--password-stdin", stdin="new-pass\n")
    with sqlite3.connect(data_dir / "store.sqlite3") as db:
        [(stored,)] = db.execute("SELECT credentials FROM accounts").fetchall()
    creds = decode_credentials(json.loads(stored))
    assert verify_password(creds, "new-pass") and not verify_password(creds, "old-pass")


def test_user_refusals_are_one_line_and_nonzero(cli):
    cli("domain", "add", "example.test")
    cli("user", "add", "alice@example.test", "--password-stdin", stdin="pw\n")
    for args, stdin, words in [
        (("user", "add", "carol@elsewhere.test", "--password-stdin"), "pw\n", "not a local domain"),
        (("user", "add", "alice@example.test", "--password-stdin"), "pw\n", "exists"),
        (("user", "add", "ALICE@example.test", "--password-stdin"), "pw\n", "exists"),
        (("user", "add", "no-at-sign", "--password-stdin"), "pw\n", "not an address"),
        (("user", "add", "a b@example.test", "--password-stdin"), "pw\n", "malformed local part"),
        (("user", "add", '"x@y"@example.test', "--password-stdin"), "pw\n", "malformed"),
        (("user", "add", "dave@example.test", "--password-stdin"), "\n", "must not be empty"),
        (("user", "add", "dave@example.test"), "", "no password"),
        (("user", "passwd", "zed@example.test", "--password-stdin"), "pw\n", "no user"),
        (("user", "del", "zed@example.test"), None, "no user"),
    ]:
        r = cli(*args, stdin=stdin)
        assert r.code == 1, (args, r)
        assert r.err.count("\n") == 1 and words in r.err and "Traceback" not in r.err, (args, r.err)
    assert cli("user", "list").out.split() == ["alice@example.test"]


def test_alias_add_list_del_with_catch_all(cli):
    cli("domain", "add", "example.test")
    cli("user", "add", "alice@example.test", "--password-stdin", stdin="pw\n")
    assert cli("alias", "add", "team@example.test", "alice@example.test", "bob@remote.test").code == 0
    assert cli("alias", "add", "@example.test", "alice@example.test").code == 0
    r = cli("alias", "list")
    assert r.code == 0
    assert r.out.splitlines() == ["@example.test -> alice@example.test",
                                  "team@example.test -> alice@example.test, bob@remote.test"]
    assert cli("alias", "del", "team@example.test").code == 0
    assert cli("alias", "list").out.splitlines() == ["@example.test -> alice@example.test"]


def test_alias_refusals_are_one_line_and_nonzero(cli):
    cli("domain", "add", "example.test")
    cli("user", "add", "alice@example.test", "--password-stdin", stdin="pw\n")
    cli("alias", "add", "team@example.test", "alice@example.test")
    for args, words in [
        (("alias", "add", "team@example.test", "bob@example.test"), "exists"),
        (("alias", "add", "x@elsewhere.test", "alice@example.test"), "not a local domain"),
        (("alias", "add", "alice@example.test", "bob@example.test"), "user's address"),
        (("alias", "add", "sales@example.test", "not-an-address"), "not an address"),
        (("alias", "add", "loop@example.test", "loop@example.test"), "itself"),
        (("alias", "del", "nobody@example.test"), "no alias"),
        (("alias", "add", "@", "alice@example.test"), "not a domain"),
    ]:
        r = cli(*args)
        assert r.code == 1, (args, r)
        assert r.err.count("\n") == 1 and words in r.err and "Traceback" not in r.err, (args, r.err)
    r = cli("alias", "add", "only@example.test")
    assert r.code == 2 and "TARGET" in r.err  # a usage error: click says what is missing
    r = cli("domain", "del", "example.test")
    assert r.code == 1 and "delete them first" in r.err


def test_data_dir_flag_before_or_after_the_command(cli, tmp_path):
    other = tmp_path / "other"
    assert cli("--data-dir", str(other), "domain", "add", "a.test").code == 0
    assert cli("domain", "add", "b.test", "--data-dir", str(other)).code == 0
    assert cli("domain", "list", "--data-dir", str(other)).out.split() == ["a.test", "b.test"]
    assert cli("domain", "list").out == ""  # $POSTOFFICE_DATA is another store


def test_check_reports_a_consistent_store(cli):
    cli("domain", "add", "example.test")
    r = cli("check")
    assert r.code == 0 and "consistent" in r.out


def test_an_unusable_password_is_one_line(cli):
    cli("domain", "add", "example.test")
    for password, words in [("x" * 1025, "at most 1024"), ("\u00ad", "unusable password")]:
        r = cli("user", "add", "carol@example.test", "--password-stdin", stdin=password + "\n")
        assert r.code == 1 and r.err.count("\n") == 1 and words in r.err and "Traceback" not in r.err, r.err
    assert cli("user", "list").out.split() == []
