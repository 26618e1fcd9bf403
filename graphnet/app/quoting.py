"""Text from a user's files and command line, as messages show it.

A key, a name or a path read from a file may hold characters a terminal does not show as themselves: a
zero-width space, a right-to-left mark that reverses the rest of the line, an escape sequence that moves the
cursor. :func:`printable` escapes them, as Python's ``repr`` does, so a message shows what is really there and
leaves the terminal as it was. A name may also hold a letter that looks like a Latin one and is not (a Cyrillic
``і`` in ``hіdden``): :func:`lookalike_hint` points it out, and the name it was probably meant to be.

Examples
--------
>>> printable("h\\u200bidden")
'h\\\\u200bidden'
>>> lookalike_hint("h\\u0456dden", ["hidden", "inputs"])
"; did you mean 'hidden'? its 'і' is U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I, not the Latin 'i'"
"""

from __future__ import annotations

import unicodedata
from typing import Iterable

# Characters a terminal does not show as themselves: controls (escape, newline), format characters (zero-width
# spaces and joiners, the marks and overrides of text direction), line and paragraph separators, and code points
# that are unassigned, private or lone surrogates.
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}

# Letters of other scripts drawn like Latin ones (Cyrillic and Greek); NFKC folds the rest (fullwidth letters,
# mathematical alphabets, ligatures).
_LATIN_LOOKALIKES = dict(zip(
    "аеорсухіјѕԁԛԝһӏАВЕКМНОРСТХУЅІЈԚԜ" "αονρυικχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ‐‑‒–—−",
    "aeopcyxijsdqwhlABEKMHOPCTXYSIJQW" "aovpuikxABEZHIKMNOPTYX------",
))


def printable(text: str) -> str:
    """``text`` with every character a terminal would not show as itself escaped (``\\u200b``, ``\\x1b``)."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escaped(c) if unicodedata.category(c) in _HIDDEN else c for c in text)


def _escaped(char: str) -> str:
    return repr(char)[1:-1] if repr(char)[1:-1] != char else f"\\u{ord(char):04x}"


def latin(text: str) -> str:
    """``text`` as it reads: look-alike letters as the Latin ones they look like, invisible characters dropped."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(_LATIN_LOOKALIKES.get(c, c) for c in folded if unicodedata.category(c) not in _HIDDEN)


def lookalikes(text: str) -> list[str]:
    """The characters of ``text`` that are not what they look like, each said in a clause: ``its 'і' is U+0456
    CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I, not the Latin 'i'``, ``it has an invisible U+200B ZERO WIDTH
    SPACE``; a letter of another script among Latin ones, ``its 'м' is U+043C CYRILLIC SMALL LETTER EM, among
    Latin letters``."""
    found = []
    among_latin = any(c.isascii() and c.isalpha() for c in text)
    for c in dict.fromkeys(text):
        if c.isascii() and c.isprintable():
            continue
        name = f"U+{ord(c):04X} " + unicodedata.name(c, "(a control character)" if c.isascii() else "(unnamed)")
        if unicodedata.category(c) in _HIDDEN:
            found.append(f"it has an invisible {name}")
        elif latin(c) != c and latin(c).isascii():
            found.append(f"its {c!r} is {name}, not the Latin {latin(c)!r}")
        elif among_latin and c.isalpha():  # another script's letter among Latin ones: rarely meant
            found.append(f"its {c!r} is {name}, among Latin letters")
    return found


def lookalike_hint(name: str, known: Iterable[str]) -> str:
    """For a ``name`` that is not among ``known``: ``"; did you mean 'x'? ..."`` when it reads as one of them
    but for look-alike or invisible characters, ``"; its ..."`` naming those characters when it holds any, else
    ``""``."""
    found = lookalikes(name)
    if not found:
        return ""
    meant = [k for k in known if latin(k) == latin(name)]
    said = "; ".join(found[:2]) + (f"; and {len(found) - 2} more such" if len(found) > 2 else "")
    return f"; did you mean {meant[0]!r}? {said}" if meant else f"; {said}"
