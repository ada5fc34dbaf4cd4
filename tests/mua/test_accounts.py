"""`mail account ...`: profiles in client.toml, passwords kept apart from it."""

from __future__ import annotations

import stat
import tomllib

from tests.mua.conftest import Person, add_account, endpoint, find_uids


def test_password_is_never_in_client_toml(tmp_path, mail_server):
    alice = Person(tmp_path / "alice", "alice@example.test")
    out = add_account(alice, mail_server).out
    config = (tmp_path / "alice" / "client.toml").read_text()
    assert "alice-secret" not in config
    assert tomllib.loads(config)["accounts"]["main"]["password"] == "file"
    credentials = tmp_path / "alice" / "credentials.toml"
    assert "credentials.toml (mode 0600)" in out
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600 and "alice-secret" in credentials.read_text()
    assert "INBOX" in alice.ok("mail", "folders").out

    # A credentials file others can read is refused, as ssh refuses such a key.
    credentials.chmod(0o644)
    r = alice("mail", "folders")
    assert r.code == 1 and r.err.count("\n") == 1 and "chmod 600" in r.err
    credentials.chmod(0o600)

    # Removing the account forgets its password.
    alice.ok("mail", "account", "del", "main")
    assert "alice-secret" not in credentials.read_text()
    assert "no accounts" in alice.ok("mail", "account", "list").out


def test_several_accounts_default_and_choice(tmp_path, mail_server):
    me = Person(tmp_path / "me", "alice@example.test")
    add_account(me, mail_server, name="work")
    bob_side = Person(tmp_path / "me", "bob@example.test")
    add_account(bob_side, mail_server, name="home", tls="implicit")
    listing = me.ok("mail", "account", "list").out
    assert "work (default)" in listing and "home" in listing and "home (default)" not in listing
    me.ok("mail", "--account", "home", "send", "--to", "carol@example.test", "--subject", "from home a1",
          stdin="x\n")
    me.ok("mail", "account", "default", "home")
    assert "home (default)" in me.ok("mail", "account", "list").out
    me.ok("mail", "send", "--to", "carol@example.test", "--subject", "default a2", stdin="x\n")
    me.ok("mail", "send", "--to", "carol@example.test", "--subject", "env a3", stdin="x\n",
          env={"POSTOFFICE_MAIL_ACCOUNT": "work"})
    shown = Person(tmp_path / "carol", "carol@example.test")
    add_account(shown, mail_server)
    listing = shown.ok("mail", "list").out
    rows = {s: next(line for line in listing.splitlines() if s in line) for s in ("a1", "a2", "a3")}
    assert "bob@example.test" in rows["a1"] and "bob@example.test" in rows["a2"]
    assert "alice@example.test" in rows["a3"]
    r = me("mail", "account", "add", "work", "--address", "x@example.test", "--smtp", "127.0.0.1:1")
    assert r.code == 1 and "exists" in r.err


def test_clear_text_on_loopback_and_the_config_location(tmp_path, mail_server):
    # --tls none: plain IMAP and submission, which our server allows on loopback only.
    home = tmp_path / "xdg"
    person = Person(tmp_path / "unused", "bob@example.test")
    env = {"POSTOFFICE_CLIENT_CONFIG": "", "XDG_CONFIG_HOME": str(home)}
    person.ok("mail", "account", "add", "plain", "--address", "bob@example.test", "--name", "Bøb Plain",
              "--imap", endpoint(mail_server, "imap"), "--smtp", endpoint(mail_server, "submission"),
              "--tls", "none", "--password-stdin", "--store-password", "file", stdin="bob-secret\n", env=env)
    assert (home / "postoffice" / "client.toml").exists()  # $XDG_CONFIG_HOME/postoffice/client.toml
    assert not (tmp_path / "unused").exists()
    person.ok("mail", "send", "--to", "bob@example.test", "--subject", "plain p1", stdin="in clear\n", env=env)
    uid = find_uids(mail_server, "bob@example.test", "p1")[0]
    shown = person.ok("mail", "read", str(uid), env=env).out
    assert "From: Bøb Plain <bob@example.test>" in shown and "in clear" in shown
    raw = person.ok("mail", "read", str(uid), "--raw", env=env).out_bytes
    from_line = next(line for line in raw.split(b"\r\n") if line.startswith(b"From: "))
    assert from_line.isascii() and b"=?utf-8?q?B=C3=B8b?=" in from_line  # RFC 2047 §5 (3): a phrase's word
    # --client-config names the file outright.
    other = tmp_path / "elsewhere" / "client.toml"
    person.ok("mail", "--client-config", str(other), "account", "add", "x", "--address", "bob@example.test",
              "--smtp", "127.0.0.1:1", "--store-password", "no", env=env)
    assert other.exists() and "x (default)" in person.ok("mail", "--client-config", str(other), "account", "list",
                                                          env=env).out


def test_a_broken_client_toml_is_named_in_one_line(tmp_path):
    person = Person(tmp_path / "p", "alice@example.test")
    person.config.parent.mkdir(parents=True)
    for text, words in (('[accounts.x]\naddress = "a@example.test"\nimap = 993\n', "accounts.x.imap must be a string"),
                        ('[accounts.x]\naddress = "a@example.test"\nport = "1"\n', "unknown key accounts.x.port"),
                        ('[accounts.x]\naddress = "a@example.test"\ntls = "ssl"\n', "tls must be one of"),
                        ("[accounts.x\n", "cannot read")):
        person.config.write_text(text)
        r = person("mail", "list")
        assert r.code == 1 and r.err.count("\n") == 1 and words in r.err and str(person.config) in r.err, r.err


def test_the_credentials_file_keeps_any_password(tmp_path, monkeypatch):
    from postoffice.mua import passwords, profiles

    monkeypatch.delenv(passwords.PASSWORD_ENV, raising=False)
    book = profiles.Profiles(tmp_path / "client.toml", {})
    account = profiles.Account(name="x", address="x@example.test", password="file")
    for password in ("a\x7fb", 'q"\\\n\t', "pässwörd ✓"):  # TOML forbids a raw DEL in a string
        passwords.store(book, account, password, "file")
        assert passwords.password_for(book, account) == password
    assert stat.S_IMODE(book.credentials_path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.toml"]  # no temporary file left behind
