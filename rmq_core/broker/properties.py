"""Java ``.properties`` text: the format of ``broker.conf`` and of UPDATE/GET_BROKER_CONFIG bodies.

Supported syntax (``java.util.Properties.load``): one ``key=value``, ``key: value`` or
``key value`` per logical line; ``#`` and ``!`` start comment lines; a line ending in an odd
number of backslashes continues on the next line (leading blanks of the continuation dropped);
escapes ``\\t \\n \\r \\f \\uXXXX`` and ``\\<any>`` in keys and values. Later keys win.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

__all__ = ["dump_properties", "parse_properties"]

_SEPARATORS = "=:"
_BLANKS = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _logical_lines(text: str) -> Iterator[str]:
    """Yield logical lines: comments and blank lines dropped, continuations joined."""
    pending: str | None = None
    for raw in text.splitlines():
        line = raw.lstrip(_BLANKS)
        if pending is None:
            if not line or line[0] in "#!":
                continue
        else:
            line = pending + line
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending = line[:-1]
            continue
        pending = None
        yield line
    if pending is not None:
        yield pending


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 >= len(text):
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u" and i + 6 <= len(text):
            try:
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            except ValueError:
                pass
        out.append(_ESCAPES.get(nxt, nxt))
        i += 2
    return "".join(out)


def _split_key(line: str) -> tuple[str, str]:
    """Split a logical line at the first unescaped separator (``=``, ``:`` or a blank)."""
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch in _SEPARATORS or ch in _BLANKS:
            break
        i += 1
    key = line[:i]
    rest = line[i:].lstrip(_BLANKS)
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(_BLANKS)
    return key, rest


def parse_properties(text: str) -> dict[str, str]:
    """Parse ``.properties`` text into a dict (values keep their trailing blanks stripped,
    which is what every ``broker.conf`` in the wild expects)."""
    result: dict[str, str] = {}
    for line in _logical_lines(text):
        key, value = _split_key(line)
        result[_unescape(key)] = _unescape(value).rstrip(_BLANKS)
    return result


def _escape(text: str, *, is_key: bool) -> str:
    out: list[str] = []
    for index, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\t\n\r\f":
            out.append("\\" + {"\t": "t", "\n": "n", "\r": "r", "\f": "f"}[ch])
        elif ch in "=:#!" or (ch == " " and (is_key or index == 0)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def dump_properties(values: Mapping[str, str]) -> str:
    """Render ``key=value`` lines sorted by key (what GET_BROKER_CONFIG answers)."""
    lines = [
        f"{_escape(k, is_key=True)}={_escape(v, is_key=False)}" for k, v in sorted(values.items())
    ]
    return "\n".join(lines) + ("\n" if lines else "")
