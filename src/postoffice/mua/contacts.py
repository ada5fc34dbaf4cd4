"""The address book: vCards in `contacts.vcf` beside client.toml, and names turned into addresses.

The store is itself a vCard file, so every property of an imported card (phones, addresses, keys)
survives to the next export, and any program that reads vCards can read the store. Cards keep the
version they came in; `export` writes them all as vCard 4.0 (RFC 6350) or 3.0 (RFC 2426),
converting what differs between the two (PREF against TYPE=pref, tel: and geo: URIs, properties
one version lacks, which become X- properties rather than being dropped). Parsing and writing go
through the `vobject` library.

Name expansion (`mail send --to Bob`): a text without "@" is looked up by name; an exact name (or
nickname) wins, else every contact whose name has words starting with each word of the text. One
match gives that contact's preferred address (PREF=1 in 4.0, TYPE=pref in 3.0, else the first);
several give `AmbiguousName` listing them, and the command sends nothing.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from postoffice.mua.connect import MuaError
from postoffice.mua.profiles import write_atomically

# Properties one version defines and the other does not (RFC 6350 §6 and Appendix A).
ONLY_IN_4 = {"KIND", "GENDER", "ANNIVERSARY", "LANG", "MEMBER", "RELATED", "CLIENTPIDMAP", "XML"}
ONLY_IN_3 = {"NAME", "MAILER", "LABEL", "CLASS", "PROFILE", "SORT-STRING", "AGENT"}
URI_VALUED = {"URL", "SOURCE", "MEMBER", "IMPP", "FBURL", "CALURI", "CALADRURI", "CAPURI"}


class AmbiguousName(MuaError):
    pass


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    emails: tuple[str, ...]       # the preferred one first
    note: str
    organization: str
    nicknames: tuple[str, ...]
    uid: str

    def mailbox(self) -> str:
        """'Name <address>' for the preferred address."""
        from postoffice.mua.compose import make_address

        if not self.emails:
            return self.name
        try:
            return str(make_address(self.name, self.emails[0]))
        except Exception:  # an address the email package will not take: show it as stored
            return f"{self.name} <{self.emails[0]}>"


if TYPE_CHECKING:  # vobject is imported when used: the CLI starts faster without it
    from vobject.base import Component, ContentLine


def read_cards(text: str, source: str) -> list[Component]:
    import vobject

    try:
        cards = [c for c in vobject.readComponents(text, ignoreUnreadable=True) if c.name.upper() == "VCARD"]
    except Exception as e:  # vobject raises ParseError and friends, and ValueError on odd dates
        raise MuaError(f"{source} is not a readable vCard file: {' '.join(str(e).split())}") from None
    return cards


def contact_of(card: Component) -> Contact:
    from vobject.base import ContentLine
    from vobject.vcard import Name

    def values(name: str) -> list[ContentLine]:
        return [line for line in card.contents.get(name.lower(), []) if isinstance(line, ContentLine)]

    fn = next((str(line.value).strip() for line in values("FN") if str(line.value).strip()), "")
    if not fn:
        for n in (line.value for line in values("N")):
            if isinstance(n, Name):
                fn = " ".join(str(p) for p in (n.prefix, n.given, n.additional, n.family, n.suffix)
                              if p and str(p).strip()).strip()
    emails = sorted(values("EMAIL"), key=_preference)
    addresses = tuple(str(line.value).strip().removeprefix("mailto:") for line in emails if str(line.value).strip())
    nicknames = tuple(n.strip() for line in values("NICKNAME") for n in _as_list(line.value) if n.strip())
    org = next((";".join(_as_list(line.value)) for line in values("ORG")), "")
    note = "\n".join(str(line.value) for line in values("NOTE"))
    uid = next((str(line.value) for line in values("UID")), "")
    return Contact(fn or (addresses[0] if addresses else ""), addresses, note, org, nicknames, uid)


def _as_list(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [p for p in str(value).split(",")]


def _preference(line: ContentLine) -> tuple[int, int]:
    """Sort key: RFC 6350 §5.3 PREF (1 is most preferred), RFC 2426 TYPE=pref, then order."""
    pref = line.params.get("PREF", [])
    types = [t.lower() for v in line.params.get("TYPE", []) for t in v.split(",")]
    if pref and str(pref[0]).isdigit():
        return (int(pref[0]), 0)
    return (0 if "pref" in types else 101, 0)


class AddressBook:
    def __init__(self, path: Path, cards: list[Component]) -> None:
        self.path = path
        self.cards = cards

    @classmethod
    def load(cls, path: Path) -> AddressBook:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path, [])
        except (OSError, UnicodeDecodeError) as e:
            raise MuaError(f"cannot read {path}: {e}") from None
        return cls(path, read_cards(text, str(path)))

    def save(self) -> None:
        write_atomically(self.path, "".join(_serialize(c) for c in self.cards).encode(), mode=0o600)

    def contacts(self) -> list[Contact]:
        return sorted((contact_of(c) for c in self.cards), key=lambda c: c.name.casefold())

    def add(self, name: str, address: str, note: str = "") -> tuple[Contact, bool]:
        """A new card, or `address` added to the card with exactly this name; (contact, created)."""
        for card in self.cards:
            contact = contact_of(card)
            if contact.name.casefold() == name.casefold():
                if address.casefold() not in (e.casefold() for e in contact.emails):
                    card.add("email").value = address
                if note:
                    card.add("note").value = note
                return contact_of(card), False
        import vobject

        card = vobject.vCard()
        card.add("version").value = "4.0"
        card.add("uid").value = f"urn:uuid:{uuid.uuid4()}"
        card.add("fn").value = name
        words = name.split()
        card.add("n").value = vobject.vcard.Name(family=words[-1] if len(words) > 1 else name,
                                                 given=" ".join(words[:-1]) if len(words) > 1 else "")
        card.add("email").value = address
        if note:
            card.add("note").value = note
        self.cards.append(card)
        return contact_of(card), True

    def remove(self, text: str) -> Contact:
        contact = self.resolve(text, need_address=False)
        self.cards = [c for c in self.cards if contact_of(c) != contact]
        return contact

    def find(self, text: str) -> list[Contact]:
        needle = text.casefold()
        return [c for c in self.contacts()
                if any(needle in field.casefold()
                       for field in (c.name, c.note, c.organization, *c.emails, *c.nicknames))]

    def resolve(self, text: str, *, need_address: bool = True) -> Contact:
        wanted = " ".join(text.split()).casefold()
        pool = [c for c in self.contacts() if c.emails or not need_address]
        exact = [c for c in pool if c.name.casefold() == wanted or wanted in (n.casefold() for n in c.nicknames)]
        if len(exact) == 1:
            return exact[0]
        if not exact:
            words = wanted.split()
            exact = [c for c in pool
                     if all(any(w.startswith(q) for w in (c.name + " " + " ".join(c.nicknames)).casefold().split())
                            for q in words)]
        if len(exact) == 1:
            return exact[0]
        if not exact:
            raise MuaError(f"no contact matches {text!r} (see `postoffice contacts list`, or give the address)")
        raise AmbiguousName(f"{text!r} matches {len(exact)} contacts: "
                            + ", ".join(c.mailbox() for c in exact) + "; give more of the name, or the address")

    def import_text(self, text: str, source: str) -> tuple[int, int]:
        """Add the cards of a vCard file; a card with the UID of one we have replaces it. (added, replaced)"""
        added = replaced = 0
        for card in read_cards(text, source):
            uid = contact_of(card).uid
            same = next((i for i, c in enumerate(self.cards) if uid and contact_of(c).uid == uid), None)
            if same is None:
                self.cards.append(card)
                added += 1
            else:
                self.cards[same] = card
                replaced += 1
        return added, replaced

    def export_text(self, version: str) -> str:
        return "".join(_serialize(convert(card, version)) for card in self.cards)


def _serialize(card: Component) -> str:
    for line in card.getChildren():
        if _is_uri(line):
            line.encoded = True  # a URI is written as it is: text escaping (\; \,) would change it
    return str(card.serialize())


def _is_uri(line: ContentLine) -> bool:
    value_type = [v.lower() for v in line.params.get("VALUE", [])]
    return isinstance(line.value, str) and (line.name.upper() in URI_VALUED or "uri" in value_type)


def convert(card: Component, version: str) -> Component:
    """A copy of `card` as vCard `version` ("4.0" or "3.0")."""
    import vobject

    copy = vobject.readOne(_serialize(card))
    out = vobject.vCard()
    lines = list(copy.getChildren())
    prefs: dict[str, int] = {}
    for line in lines:
        if (p := line.params.get("PREF")) and str(p[0]).isdigit():
            prefs[line.name.upper()] = min(prefs.get(line.name.upper(), 101), int(p[0]))
    for line in lines:
        name = line.name.upper()
        if name == "VERSION":
            continue
        if version == "3.0":
            _to_3(line, name, prefs)
        else:
            _to_4(line, name)
        out.add(line)
    out.add("version").value = version
    if version == "3.0" and "n" not in out.contents:  # RFC 2426 §3.1.2: N is required in 3.0
        fn = contact_of(out).name
        out.add("n").value = vobject.vcard.Name(family=fn)
    return out


def _types(line: ContentLine) -> list[str]:
    return [t for v in line.params.get("TYPE", []) for t in v.split(",") if t]


def _to_3(line: ContentLine, name: str, prefs: dict[str, int]) -> None:
    types = _types(line)
    pref = line.params.pop("PREF", None)
    if pref and str(pref[0]).isdigit() and int(pref[0]) == prefs.get(name):
        types.append("pref")
    if types:
        line.params["TYPE"] = types
    for param in ("PID", "ALTID"):
        line.params.pop(param, None)
    value_type = [v.lower() for v in line.params.get("VALUE", [])]
    if name == "TEL" and "uri" in value_type and isinstance(line.value, str):
        line.params.pop("VALUE")
        line.value = line.value.removeprefix("tel:")
    elif name == "GEO" and isinstance(line.value, str) and line.value.startswith("geo:"):
        line.value = line.value.removeprefix("geo:").split(";")[0].replace(",", ";")  # RFC 2426 §3.4.2
        line.encoded = True
    if name in ONLY_IN_4:
        line.name = "X-" + name


def _to_4(line: ContentLine, name: str) -> None:
    types = _types(line)
    if any(t.lower() == "pref" for t in types):
        line.params["PREF"] = ["1"]
    kept = [t for t in types if t.lower() not in ("pref", "internet")]
    if kept:
        line.params["TYPE"] = kept
    else:
        line.params.pop("TYPE", None)
    line.params.pop("CHARSET", None)  # RFC 6350 §3.1: always UTF-8
    encoding = [v.lower() for v in line.params.get("ENCODING", [])]
    if encoding and encoding[0] in ("b", "base64") and isinstance(line.value, bytes):
        media = (kept[0].lower() if kept else "octet-stream")
        major = {"PHOTO": "image", "LOGO": "image", "SOUND": "audio"}.get(name, "application")
        line.params.pop("ENCODING")
        line.params.pop("TYPE", None)
        line.value = f"data:{major}/{media};base64,{base64.b64encode(line.value).decode()}"  # RFC 6350 §6.2.4
        line.encoded = True
    if name in ONLY_IN_3:
        line.name = "X-" + name
