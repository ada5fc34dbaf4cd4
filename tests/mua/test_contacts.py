"""The address book: vCards in and out, and names in --to/--cc/--bcc."""

from __future__ import annotations

from email import message_from_bytes, policy

from tests.mua.conftest import Person, fetch_raw, find_uids, marker

# RFC 6350 §8, the author's card, as another program would write it (CRLF, folded lines).
RFC6350_EXAMPLE = (
    "BEGIN:VCARD\r\n"
    "VERSION:4.0\r\n"
    "FN:Simon Perreault\r\n"
    "N:Perreault;Simon;;;ing. jr,M.Sc.\r\n"
    "BDAY:--0203\r\n"
    "ANNIVERSARY:20090808T1430-0500\r\n"
    "GENDER:M\r\n"
    "LANG;PREF=1:fr\r\n"
    "LANG;PREF=2:en\r\n"
    "ORG;TYPE=work:Viagenie\r\n"
    "ADR;TYPE=work:;Suite D2-630;2875 Laurier;\r\n"
    " Quebec;QC;G1V 2M2;Canada\r\n"
    'TEL;VALUE=uri;TYPE="work,voice";PREF=1:tel:+1-418-656-9254;ext=102\r\n'
    'TEL;VALUE=uri;TYPE="work,cell,voice,video,text":tel:+1-418-262-6501\r\n'
    "EMAIL;TYPE=work:simon.perreault@viagenie.ca\r\n"
    "GEO;TYPE=work:geo:46.772673,-71.282945\r\n"
    "KEY;TYPE=work;VALUE=uri:\r\n"
    " http://www.viagenie.ca/simon.perreault/simon.asc\r\n"
    "TZ:-0500\r\n"
    "URL;TYPE=home:http://nomis80.org\r\n"
    "END:VCARD\r\n"
)

# RFC 2426 §7 (vCard 3.0), its two example cards; the first one's two addresses are swapped here, so
# that the preferred one (TYPE=pref) is not simply the first.
RFC2426_EXAMPLE = (
    "BEGIN:vCard\r\n"
    "VERSION:3.0\r\n"
    "FN:Frank Dawson\r\n"
    "ORG:Lotus Development Corporation\r\n"
    "ADR;TYPE=WORK,POSTAL,PARCEL:;;6544 Battleford Drive\r\n"
    " ;Raleigh;NC;27613-3502;U.S.A.\r\n"
    "TEL;TYPE=VOICE,MSG,WORK:+1-919-676-9515\r\n"
    "TEL;TYPE=FAX,WORK:+1-919-676-9564\r\n"
    "EMAIL;TYPE=INTERNET:fdawson@earthlink.net\r\n"
    "EMAIL;TYPE=INTERNET,PREF:Frank_Dawson@Lotus.com\r\n"
    "URL:http://home.earthlink.net/~fdawson\r\n"
    "END:vCard\r\n"
    "\r\n"
    "BEGIN:vCard\r\n"
    "VERSION:3.0\r\n"
    "FN:Tim Howes\r\n"
    "ORG:Netscape Communications Corp.\r\n"
    "ADR;TYPE=WORK:;;501 E. Middlefield Rd.;Mountain View;\r\n"
    " CA; 94043;U.S.A.\r\n"
    "TEL;TYPE=VOICE,MSG,WORK:+1-415-937-3419\r\n"
    "TEL;TYPE=FAX,WORK:+1-415-528-4164\r\n"
    "EMAIL;TYPE=INTERNET:howes@netscape.com\r\n"
    "END:vCard\r\n"
)


def emails_by_name(person: Person) -> dict[str, list[str]]:
    """What `contacts export` wrote, read back card by card: FN -> EMAIL values in order."""
    text = person.ok("contacts", "export", "-").out.replace("\r\n", "\n")
    out: dict[str, list[str]] = {}
    for card in text.split("END:VCARD")[:-1]:
        lines = card.replace("\n ", "").splitlines()
        fn = next(line.split(":", 1)[1] for line in lines if line.startswith("FN"))
        out[fn] = [line.split(":", 1)[1] for line in lines if line.startswith("EMAIL")]
    return out


def test_vcard_files_from_elsewhere_round_trip(tmp_path):
    me = Person(tmp_path / "me", "me@example.test")
    v4, v3 = tmp_path / "simon.vcf", tmp_path / "rfc2426.vcf"
    v4.write_bytes(RFC6350_EXAMPLE.encode())
    v3.write_bytes(RFC2426_EXAMPLE.encode())
    assert "imported 1 new" in me.ok("contacts", "import", str(v4)).out
    assert "imported 2 new" in me.ok("contacts", "import", str(v3)).out

    listing = me.ok("contacts", "list").out
    for text in ("Simon Perreault", "simon.perreault@viagenie.ca", "Viagenie", "Frank Dawson", "Tim Howes",
                 "howes@netscape.com"):
        assert text in listing
    assert "Simon Perreault" in me.ok("contacts", "find", "viagenie").out
    assert "Tim Howes" not in me.ok("contacts", "find", "viagenie").out

    # Export as 4.0 and as 3.0, import each into a fresh address book: the same people come back.
    for version in ("4.0", "3.0"):
        out = tmp_path / f"all-{version}.vcf"
        me.ok("contacts", "export", str(out), "--vcard-version", version)
        text = out.read_text().replace("\r\n ", "")
        assert text.count("BEGIN:VCARD") == 3 and text.count(f"VERSION:{version}") == 3
        other = Person(tmp_path / f"other-{version}", "other@example.test")
        other.ok("contacts", "import", str(out))
        assert emails_by_name(other) == emails_by_name(me)
        # The other properties survive too.
        assert "Battleford Drive" in text and "+1-418-262-6501" in text and "nomis80.org" in text
    v3_text = (tmp_path / "all-3.0.vcf").read_text()
    v4_text = (tmp_path / "all-4.0.vcf").read_text()
    # RFC 2426 §3.3.2 TYPE=pref against RFC 6350 §5.3 PREF=1; tel: URIs are 4.0 only (RFC 6350 §6.4.1).
    assert "EMAIL;TYPE=INTERNET,pref:Frank_Dawson@Lotus.com" in v3_text.replace("PREF", "pref")
    assert "EMAIL;PREF=1:Frank_Dawson@Lotus.com" in v4_text
    assert "tel:+1-418-262-6501" in v4_text and "tel:" not in v3_text
    # The preferred address comes first (it is the one a name expands to).
    found = me.ok("contacts", "find", "frank").out
    assert found.index("Frank_Dawson@Lotus.com") < found.index("fdawson@earthlink.net")


def test_names_expand_and_an_ambiguous_name_sends_nothing(people, mail_server):
    alice, bob = people["alice"], people["bob"]
    alice.ok("contacts", "add", "Bob Builder", "bob@example.test", "--note", "the neighbour")
    alice.ok("contacts", "add", "Carol Singer", "carol@example.test")
    out = alice.ok("mail", "send", "--to", "bob builder", "--cc", "Carol", "--subject", "By name c1",
                   stdin="Hi.\n").out
    assert "bob@example.test, carol@example.test" in out
    raw = fetch_raw(mail_server, bob.address, find_uids(mail_server, bob.address, "c1")[0])
    msg = message_from_bytes(raw, policy=policy.default)
    assert str(msg["To"]) == "Bob Builder <bob@example.test>" and str(msg["Cc"]) == "Carol Singer <carol@example.test>"

    alice.ok("contacts", "add", "Bobby Tables", "tables@example.test")
    r = alice("mail", "send", "--to", "bob", "--subject", "Ambiguous c2", stdin="Which one?\n")
    assert r.code == 1 and r.err.count("\n") == 1
    assert "Bob Builder <bob@example.test>" in r.err and "Bobby Tables <tables@example.test>" in r.err
    assert "nothing was sent" in r.err
    r = alice("mail", "send", "--to", "Zed", "--subject", "Unknown c3", stdin="?\n")
    assert r.code == 1 and r.err.count("\n") == 1 and "no contact matches 'Zed'" in r.err
    marker(mail_server, alice, "bob@example.test", "marker after the refusals")
    assert find_uids(mail_server, bob.address, "c2", timeout=0) == []
    assert find_uids(mail_server, alice.address, "c2", folder="Sent", timeout=0) == []

    # A second address for a known name joins that contact; remove needs an unambiguous name.
    assert "updated" in alice.ok("contacts", "add", "Bob Builder", "bob.b@example.test").out
    assert "bob.b@example.test" in alice.ok("contacts", "find", "builder").out
    assert alice("contacts", "remove", "bob").code == 1
    alice.ok("contacts", "remove", "Bobby Tables")
    assert "Bobby" not in alice.ok("contacts", "list").out
