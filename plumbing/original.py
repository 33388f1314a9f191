"""A message as received, described in a few hundred characters.

A rejection or a dead letter used to carry the whole original: one 2 MB
contact made a 2.1 MB rejection that no broker would take, and every
rejection carried children's names to whoever read it. Now the message is
kept by the service that received it (``plumbing.quarantine``) and what
travels is its size, its hash and a preview in which only the shape of the
personal data survives: enough for a sender to recognise its message,
nothing a reader could learn a child's details from.
"""

import hashlib
import re

from contracts.events import OriginalDigest

PREVIEW_CHARS = 300
# Values of the CloudEvents envelope, which name the message and not a person.
KEPT_VALUES = frozenset({"specversion", "id", "source", "type", "subject", "time",
                         "datacontenttype", "schema_version", "correlation_id", "causation_id"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,40}")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*("|$)', re.DOTALL)
_KEY_FOLLOWS = re.compile(r"\s*:")
_LITERAL = re.compile(r"true|false|null")
_WORD = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)


def _shape(text: str) -> str:
    """Letters and digits hidden, their shape kept: 'Ann Lee 07' -> 'Xxx Xxx 99'."""
    return "".join("9" if ch.isdigit() else ("X" if ch.isupper() else "x") if ch.isalpha()
                   else ch for ch in text)


def _outside(text: str) -> str:
    """Between string literals: JSON punctuation, numbers and literals; or,
    in a message that is not JSON, free text. Masked but for true/false/null."""
    def hide(match: re.Match[str]) -> str:
        word = match.group(0)
        return word if _LITERAL.fullmatch(word) else _shape(word)
    return _WORD.sub(hide, text)


def mask(text: str) -> str:
    """Personal data masked in (the start of) a JSON text or any text.

    Field names are kept when they look like names, and the values of the
    envelope's own attributes (``KEPT_VALUES``); every other string value,
    number and word is reduced to its shape."""
    out: list[str] = []
    at = 0
    key: str | None = None
    for match in _STRING.finditer(text):
        out.append(_outside(text[at:match.start()]))
        literal = match.group(0)
        # A preview may cut a string short: then it has no closing quote.
        close = '"' if match.group(1) else ""
        inner = literal[1:len(literal) - len(close)]
        if _KEY_FOLLOWS.match(text, match.end()):
            key = inner if _NAME.fullmatch(inner) else None
            kept = key is not None
        else:
            kept = key in KEPT_VALUES
        out.append(literal if kept else '"' + _shape(inner) + close)
        at = match.end()
    out.append(_outside(text[at:]))
    return "".join(out)


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch == " " else "·" for ch in text)


def preview(raw: bytes, chars: int = PREVIEW_CHARS) -> str:
    """The first ``chars`` characters of a message, masked and printable."""
    # Four bytes a character at most: enough bytes for ``chars`` characters.
    decoded = raw[:chars * 4].decode("utf-8", errors="replace")
    more = len(decoded) > chars or len(raw) > chars * 4
    return _printable(mask(decoded[:chars])) + ("…" if more else "")


def describe(raw: bytes, kept_as: str) -> OriginalDigest:
    return OriginalDigest(size_bytes=len(raw), sha256=hashlib.sha256(raw).hexdigest(),
                          preview=preview(raw), kept_as=kept_as)
