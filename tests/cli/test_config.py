"""The configuration file: defaults for everything, one clear line for anything wrong."""

from __future__ import annotations

import pytest

from postoffice import config as config_module
from postoffice.config import ConfigError


def write(tmp_path, text):
    path = tmp_path / "postoffice.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file(monkeypatch):
    monkeypatch.delenv("POSTOFFICE_DATA", raising=False)
    c = config_module.load(None)
    assert c.data_dir == "./postoffice-data"
    assert (c.listen.smtp, c.listen.submission, c.listen.submissions) == ("127.0.0.1:2525", "127.0.0.1:2587", "127.0.0.1:2465")
    assert (c.listen.pop3, c.listen.pop3s, c.listen.imap, c.listen.imaps) == (
        "127.0.0.1:2110", "127.0.0.1:2995", "127.0.0.1:2143", "127.0.0.1:2993")
    assert c.listen.http == "127.0.0.1:8025" and c.tls.cert == ""


def test_the_issue_example_file_loads(tmp_path):
    path = write(tmp_path, '''
hostname = "mail.example.test"
data_dir = "/var/lib/postoffice"
[listen]                       # "" disables a listener
smtp = "127.0.0.1:2525"
submission = "127.0.0.1:2587"
submissions = "127.0.0.1:2465"
pop3 = ""
pop3s = "127.0.0.1:2995"
imap = "127.0.0.1:2143"
imaps = "[::1]:2993"
http = "127.0.0.1:8025"
[tls]
cert = ""
key = ""
''')
    c = config_module.load(path)
    assert c.hostname == "mail.example.test" and c.data_dir == "/var/lib/postoffice" and c.listen.pop3 == ""


def test_data_dir_precedence(tmp_path, monkeypatch):
    path = write(tmp_path, 'data_dir = "/from/file"\n')
    monkeypatch.setenv("POSTOFFICE_DATA", "/from/env")
    assert config_module.load(path, data_dir="/from/flag").data_dir == "/from/flag"
    assert config_module.load(path).data_dir == "/from/file"
    assert config_module.load(None).data_dir == "/from/env"


@pytest.mark.parametrize("text, words", [
    ('hostnme = "x"\n', "unknown key 'hostnme'"),
    ('[listen]\nsmpt = "127.0.0.1:25"\n', "unknown key 'listen.smpt'"),
    ('[listen]\nsmtp = 25\n', "'listen.smtp' must be a string"),
    ('[listen]\nsmtp = "localhost"\n', "'listen.smtp' must be HOST:PORT"),
    ('[listen]\nsmtp = "127.0.0.1:99999"\n', "'listen.smtp' must be HOST:PORT"),
    ('listen = "x"\n', "'listen' must be a table"),
    ('[tls]\ncert = "/a.pem"\n', "'tls.cert' and 'tls.key' must be given together"),
    ('[store]\nmax_group = "many"\n', "'store.max_group' must be a whole number"),
    ('[store]\nmax_group = 0\n', "'store.max_group' must be at least 1"),
    ('[store]\ngroup_commit = 1\n', "'store.group_commit' must be true or false"),
    ('log_level = "loud"\n', "'log_level' must be one of"),
    ('hostname = \n', "not valid TOML"),
])
def test_a_bad_key_or_value_names_the_key_and_the_file(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        config_module.load(path)
    assert words in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_serve_with_a_bad_config_says_one_line_and_exits_nonzero(cli, tmp_path):
    path = write(tmp_path, '[listen]\nsmpt = "127.0.0.1:25"\n')
    r = cli("serve", "--config", str(path))
    assert r.code == 1
    assert r.err == f"postoffice: {path}: unknown key 'listen.smpt'\n"
    r = cli("serve", "--config", str(tmp_path / "missing.toml"))
    assert r.code == 1 and "no such file" in r.err and r.err.count("\n") == 1


def test_every_setting_is_documented(cli):
    r = cli("config")
    assert r.code == 0
    lines = r.out.splitlines()
    assert any(line.startswith('listen.smtp = "127.0.0.1:2525"') for line in lines)
    assert all("# " in line and line.split("# ", 1)[1].strip() for line in lines)
