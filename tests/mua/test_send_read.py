"""Sending with `mail send`, and reading what arrived with `mail list`, `mail read`, `save-attachments`."""

from __future__ import annotations

import re
import sys
from email import message_from_bytes, policy

from tests.mua.conftest import fetch_raw, find_uids

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40 + b"\r\n.\r\n\x00end"  # every byte value, a lone dot line
NOTES = "line one\nligne deux: été\n".encode()
SUBJECT = "Réunion à 東京 ✓ t1"


def header_of(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def parsed(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def test_send_with_attachments_and_utf8_subject_to_two_users_and_an_alias(people, mail_server, tmp_path):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    photo, notes = tmp_path / "photo.png", tmp_path / "notes été.txt"
    photo.write_bytes(PHOTO)
    notes.write_bytes(NOTES)
    r = alice.ok("mail", "send", "--to", "bob@example.test, carol@example.test", "--cc", "team@example.test",
                 "--subject", SUBJECT, "--attach", str(photo), "--attach", str(notes),
                 stdin="Bonjour à tous,\nthe photo and the notes are attached.\n")
    message_id = re.search(r"sent (<[^>]+>)", r.out).group(1)
    assert "copy saved in Sent" in r.out

    # Every recipient, the alias's members included (team -> alice, bob), gets it.
    for person in (bob, carol, alice):
        uids = find_uids(mail_server, person.address, "t1")
        assert uids, f"{person.address} got nothing"
        uid = uids[0]
        shown = person.ok("mail", "read", str(uid)).out
        assert f"Subject: {SUBJECT}" in shown
        assert "Bonjour à tous," in shown and "the photo and the notes are attached." in shown
        assert "photo.png  image/png" in shown and "notes été.txt  text/plain" in shown
        # --raw is the message byte for byte as the server holds it (IMAP FETCH BODY[]).
        raw = person.ok("mail", "read", str(uid), "--raw").out_bytes
        assert raw == fetch_raw(mail_server, person.address, uid)
        assert parsed(raw)["Message-ID"] == message_id
        # RFC 2047 §5: the non-ASCII subject travels as encoded-words; the header is all ASCII.
        assert header_of(raw).isascii() and b"=?utf-8?" in header_of(raw).lower()
        # The attachments come back equal to the files that were sent.
        out = tmp_path / f"saved-{person.address}"
        person.ok("mail", "save-attachments", str(uid), str(out))
        assert (out / "photo.png").read_bytes() == PHOTO
        assert (out / "notes été.txt").read_bytes() == NOTES

    # Reading marked it read (RFC 3501 §6.4.5: BODY[] sets \Seen).
    listing = carol.ok("mail", "list", "--search", "subject:t1").out
    assert SUBJECT in listing and "unread" not in listing

    # The sender's copy is in Sent, with the same Message-ID.
    sent = find_uids(mail_server, alice.address, "t1", folder="Sent")
    assert len(sent) == 1
    assert parsed(fetch_raw(mail_server, alice.address, sent[0], folder="Sent"))["Message-ID"] == message_id
    assert SUBJECT in alice.ok("mail", "list", "--folder", "Sent").out


def test_bcc_recipients_are_in_no_header_but_the_senders_copy(people, mail_server):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    alice.ok("mail", "send", "--to", "bob@example.test", "--bcc", "carol@example.test", "--subject", "Quiet t4",
             stdin="Between us.\n")
    carol_uid = find_uids(mail_server, carol.address, "t4")[0]
    bob_uid = find_uids(mail_server, bob.address, "t4")[0]
    # RFC 5322 §3.6.3: the Bcc recipient gets it, and nobody's copy shows who was blind-copied.
    for person, uid in ((bob, bob_uid), (carol, carol_uid)):
        raw = person.ok("mail", "read", str(uid), "--raw").out_bytes
        assert b"bcc:" not in header_of(raw).lower() and b"carol" not in header_of(raw).split(b"\r\nTo:")[1][:100]
    sent = find_uids(mail_server, alice.address, "t4", folder="Sent")[0]
    assert parsed(fetch_raw(mail_server, alice.address, sent, folder="Sent"))["Bcc"] == "carol@example.test"


def test_html_alternative_is_read_as_text(people, mail_server, tmp_path):
    alice, bob = people["alice"], people["bob"]
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>Hello <b>Bob</b></p><ul><li>first</li><li>second</li></ul></body></html>")
    alice.ok("mail", "send", "--to", "bob@example.test", "--subject", "Styled t7", "--html-file", str(page),
             "--body-file", "-", stdin="Hello Bob\n- first\n- second\n")
    uid = find_uids(mail_server, bob.address, "t7")[0]
    msg = parsed(fetch_raw(mail_server, bob.address, uid))
    assert msg.get_content_type() == "multipart/alternative"  # RFC 2046 §5.1.4
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    shown = bob.ok("mail", "read", str(uid)).out
    assert "Hello Bob\n- first\n- second" in shown and "<b>" not in shown


def test_edit_writes_the_message_in_the_editor(people, mail_server, tmp_path):
    alice, bob = people["alice"], people["bob"]
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys\n"
        "path = sys.argv[1]\n"
        "text = open(path, encoding='utf-8').read()\n"
        "text = text.replace('To: \\n', 'To: bob@example.test\\n').replace('Subject: \\n', 'Subject: Drafted t5\\n')\n"
        "open(path, 'w', encoding='utf-8').write(text + 'Written in the editor.\\n')\n")
    alice.ok("mail", "send", "--edit", env={"EDITOR": f"{sys.executable} {editor}", "VISUAL": ""})
    uid = find_uids(mail_server, bob.address, "t5")[0]
    assert "Written in the editor." in bob.ok("mail", "read", str(uid)).out
    # An editor that fails, or an empty body, sends nothing.
    r = alice("mail", "send", "--to", "bob@example.test", "--subject", "never t5", "--edit",
              env={"EDITOR": "false", "VISUAL": ""})
    assert r.code == 1 and r.err.count("\n") == 1 and "nothing was sent" in r.err


def test_list_flag_move_delete_and_folders(people, mail_server):
    from tests.mua.conftest import deliver

    carol = people["carol"]
    for word in ("apple", "banana", "cherry"):
        deliver(mail_server, carol.address, f"fruit {word} t6")
    uids = find_uids(mail_server, carol.address, "t6", expect=3)
    assert len(uids) == 3
    listing = carol.ok("mail", "list", "--unread", "--search", "subject:t6").out
    assert all(f"fruit {w} t6" in listing for w in ("apple", "banana", "cherry"))
    assert listing.count("unread") == 3 and "Dave" in listing
    assert "fruit apple" not in carol.ok("mail", "list", "--search", "subject:t6", "--limit", "2").out
    assert "banana" in carol.ok("mail", "list", "--search", "from:dave banana").out

    apple, banana, cherry = uids
    carol.ok("mail", "flag", str(apple), "flagged")
    carol.ok("mail", "flag", str(apple), "seen")
    row = next(line for line in carol.ok("mail", "list").out.splitlines() if "fruit apple" in line)
    assert "flagged" in row and "unread" not in row
    carol.ok("mail", "flag", str(apple), "flagged", "--unset")
    row = next(line for line in carol.ok("mail", "list").out.splitlines() if "fruit apple" in line)
    assert "flagged" not in row

    carol.ok("mail", "move", str(banana), "Archive")
    assert "banana" not in carol.ok("mail", "list").out
    assert "fruit banana t6" in carol.ok("mail", "list", "--folder", "Archive").out

    # delete: into Trash (RFC 6154 \Trash), then from Trash for good.
    assert "Trash" in carol.ok("mail", "delete", str(cherry)).out
    assert "cherry" not in carol.ok("mail", "list").out
    trashed = find_uids(mail_server, carol.address, "cherry", folder="Trash")
    assert trashed
    carol.ok("mail", "delete", str(trashed[0]), "--folder", "Trash")
    assert "cherry" not in carol.ok("mail", "list", "--folder", "Trash").out

    folders = carol.ok("mail", "folders").out
    archive = next(line for line in folders.splitlines() if line.startswith("Archive"))
    assert archive.split()[1:3] == ["Archive", "1"]

    r = carol("mail", "read", "99999")
    assert r.code == 1 and r.err.count("\n") == 1 and "99999" in r.err
    r = carol("mail", "move", str(apple), "Nowhere")
    assert r.code == 1 and "no folder" in r.err


def test_saved_attachments_never_overwrite_or_escape_the_directory(people, mail_server, tmp_path):
    import smtplib

    bob = people["bob"]
    # A sender chooses the file name: "../../.profile" must land inside DIR, as "profile".
    raw = ("From: dave@remote.test\r\nTo: bob@example.test\r\nSubject: Names t8\r\nMIME-Version: 1.0\r\n"
           'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
           "--b\r\nContent-Type: application/octet-stream\r\n"
           'Content-Disposition: attachment; filename="../../.profile"\r\n\r\npayload\r\n'
           "--b\r\nContent-Type: application/octet-stream\r\n"
           'Content-Disposition: attachment; filename="x.txt"\r\n\r\nsecond\r\n--b--\r\n')
    host, port = mail_server.listeners["smtp"]
    with smtplib.SMTP(host, port) as smtp:
        smtp.sendmail("dave@remote.test", ["bob@example.test"], raw)
    uid = find_uids(mail_server, bob.address, "t8")[0]
    out = tmp_path / "out"
    out.mkdir()
    (out / "x.txt").write_bytes(b"mine")
    saved = bob.ok("mail", "save-attachments", str(uid), str(out)).out
    assert sorted(p.name for p in out.iterdir()) == ["profile", "x (1).txt", "x.txt"]
    assert (out / "profile").read_bytes() == b"payload"
    assert (out / "x.txt").read_bytes() == b"mine" and (out / "x (1).txt").read_bytes() == b"second"
    assert "x (1).txt" in saved
    assert not (tmp_path / ".profile").exists()


def test_the_installed_command_and_a_sent_folder_made_when_missing(people, mail_server, tmp_path):
    import os
    import subprocess

    from tests.conftest import POSTOFFICE
    from tests.mua.conftest import imap_login

    carol = people["carol"]
    imap = imap_login(mail_server, carol.address)
    try:
        assert imap.delete('"Sent"')[0] == "OK"
    finally:
        imap.logout()
    env = {**os.environ, "POSTOFFICE_CLIENT_CONFIG": str(carol.config)}
    env.pop("POSTOFFICE_MAIL_PASSWORD", None)
    done = subprocess.run([POSTOFFICE, "mail", "send", "--to", "bob@example.test", "--subject", "Installed t9"],
                          input=b"Through the real command.\n", capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert b"copy saved in Sent" in done.stdout
    sent = find_uids(mail_server, carol.address, "t9", folder="Sent")
    assert len(sent) == 1  # RFC 6154: no \Sent folder was left, so "Sent" was made for the copy
    raw = subprocess.run([POSTOFFICE, "mail", "read", str(sent[0]), "--folder", "Sent", "--raw"],
                         capture_output=True, env=env, timeout=120)
    assert raw.returncode == 0 and raw.stdout == fetch_raw(mail_server, carol.address, sent[0], folder="Sent")


def test_a_non_ascii_address_is_sent_with_smtputf8(people, mail_server):
    import subprocess

    from tests.conftest import POSTOFFICE

    add = subprocess.run([POSTOFFICE, "alias", "add", "--data-dir", str(mail_server.data_dir), "zoë@example.test",
                          "bob@example.test"], capture_output=True, text=True, timeout=60)
    assert add.returncode == 0, add.stderr
    alice, bob = people["alice"], people["bob"]
    alice.ok("mail", "send", "--to", "Zoë <zoë@example.test>", "--subject", "Unicode address t10", stdin="Hej!\n")
    uid = find_uids(mail_server, bob.address, "t10")[0]
    raw = fetch_raw(mail_server, bob.address, uid)
    # RFC 6532 §3.2: with SMTPUTF8 (RFC 6531) the header carries the address in UTF-8 as it is.
    assert "To: Zoë <zoë@example.test>".encode() in raw
    assert "To: Zoë <zoë@example.test>" in bob.ok("mail", "read", str(uid)).out


def test_a_sender_cannot_drive_the_readers_terminal(people, mail_server):
    import smtplib

    bob = people["bob"]
    # Escape sequences (retitle the window, clear the screen) in an encoded-word and in the body.
    raw = ("From: dave@remote.test\r\nTo: bob@example.test\r\n"
           "Subject: =?utf-8?q?Escape_t11_=1B]0;owned=07?=\r\n\r\nbefore\x1b[2Jafter\r\n")
    host, port = mail_server.listeners["smtp"]
    with smtplib.SMTP(host, port) as smtp:
        smtp.sendmail("dave@remote.test", ["bob@example.test"], raw)
    uid = find_uids(mail_server, bob.address, "t11")[0]
    for shown in (bob.ok("mail", "read", str(uid)).out, bob.ok("mail", "list", "--search", "subject:t11").out):
        assert "\x1b" not in shown and "\x07" not in shown and "Escape t11" in shown
    assert "before\ufffd[2Jafter" in bob.ok("mail", "read", str(uid)).out
    assert b"before\x1b[2Jafter" in bob.ok("mail", "read", str(uid), "--raw").out_bytes  # --raw is the source
