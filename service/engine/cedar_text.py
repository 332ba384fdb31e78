"""Cedar source text: string literals we write, and a small scanner for statement
start lines and namespace bodies.

Cedar's parser reports errors without positions and numbers policies by their
order, so we find where each statement starts ourselves. The scanner only
needs to know strings, comments and braces to be exact about that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def cedar_string(value: str) -> str:
    """`value` as a Cedar string literal (schema and policy syntax alike).

    JSON's `\\u00e0` is not a Cedar escape: Cedar writes `\\u{e0}`. Printable
    characters go in as they are (Cedar source is UTF-8); other characters are
    written `\\u{…}`. A lone surrogate has no UTF-8 form: ValueError.
    """
    out = ['"']
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError(f"{value!r}: a lone surrogate cannot be written in Cedar")
        else:
            out.append(f"\\u{{{ord(ch):x}}}")
    out.append('"')
    return "".join(out)


def _code_chars(text: str) -> Iterator[tuple[int, str]]:
    """Yield (offset, char) for characters outside strings and `//` comments."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == '"':
            yield i, ch
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            if i < n:
                yield i, '"'
            i += 1
            continue
        yield i, ch
        i += 1


@dataclass(frozen=True)
class Statement:
    """One `;`-terminated statement: its text and 1-based start line."""

    text: str
    line: int


def statements(text: str) -> list[Statement]:
    """Split Cedar policy text into statements, each with its first token's line."""
    found: list[Statement] = []
    current: int | None = None
    for offset, ch in _code_chars(text):
        if ch.isspace():
            continue
        if current is None:
            current = offset
        if ch == ";":
            found.append(Statement(text[current : offset + 1], text.count("\n", 0, current) + 1))
            current = None
    if current is not None:  # trailing text without `;`: still a statement
        found.append(Statement(text[current:], text.count("\n", 0, current) + 1))
    return found


def namespace_body_end(text: str, namespace: str) -> int:
    """Offset of the `}` closing `namespace <namespace> {`; ValueError if absent."""
    opener = f"namespace{namespace}{{"
    depth = 0
    seen = ""
    inside = False
    # Match the opener with white space squeezed out, then count braces.
    for offset, ch in _code_chars(text):
        if not inside:
            if ch.isspace():
                continue
            seen = (seen + ch)[-len(opener) :]
            if seen == opener:
                inside = True
                depth = 1
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return offset
    if inside:
        raise ValueError(f"`namespace {namespace}` is not closed")
    raise ValueError(f"the schema stub has no `namespace {namespace} {{ … }}` block")
