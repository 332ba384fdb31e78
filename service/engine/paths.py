"""Path-like values as policies should see them: resolved, then split in segments.

A policy that allows a folder by string prefix (`like "/data/reports*"`) also
allows `/data/reports/../../etc/passwd` and `/data/reports-secret` — the class
of bug behind the MCP filesystem server's path-prefix CVEs. So for every
path-like value mcp-pdp adds a record next to the raw string:

    {normalized: String, ancestors: Set<String>, segments: Set<String>}

- `normalized`: `.` and empty segments dropped, `..` resolved, `\\` read as `/`;
  absolute paths keep their leading `/`, no trailing `/`.
- `ancestors`: every folder that encloses the path (not the path itself), e.g.
  `/data/reports/q1.csv` → `{"/", "/data", "/data/reports"}`. A policy for "inside
  /data/reports" is `ancestors.contains("/data/reports")`: segment-exact, so
  `/data/reports-secret/x` does not match.
- `segments`: the segment names, for rules like "never a `.ssh` folder".

A `..` that climbs above the root (or above the start of a relative path) is
refused with `invalid_arguments`, as are NUL bytes. For URIs (`context.uri` on
resource methods) the path is percent-decoded once first, so `%2e%2e` is `..`.

The server behind the gateway may read a name differently than we do: it may
percent-decode it (once or repeatedly, `%uXXXX` too), apply NFKC (U+FF0E twice is
`..`), strip trailing dots and spaces (Windows: `.. ` and `...` are `..`) or cut
`;parameters` (Tomcat: `..;x` is `..`). A segment is refused when any of those
readings could climb or split it where the policy saw one folder name: it reads
as dots only (`..`, `.`) without being a literal `..` or `.`, or it holds a
separator (`/`, `\\`), a NUL, or an escape that is not UTF-8. Every other
segment is kept as given; only climbs are closed this way, not other aliases
(`%41`, full-width letters, case on Windows), which is why confinement is best
written as `ancestors.contains(…)` (an alias can only make it deny). Symbolic
links are the server's to resolve: a PDP cannot see the file system.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import unquote, urlsplit

from service.engine.errors import InvalidArguments
from service.engine.input_types import pointer

PATH_FACTS_TYPE = "{normalized: String, ancestors: Set<String>, segments: Set<String>}"
URI_FACTS_TYPE = (
    "{scheme: String, authority: String, path: String, "
    "ancestors: Set<String>, segments: Set<String>}"
)
MAX_PATH = 4096
# Readings deeper than this (`%25252e`…) are refused rather than followed further.
MAX_DECODINGS = 8
_IIS_ESCAPE = re.compile(r"%u([0-9a-fA-F]{4})")


def _decode(text: str, where: str) -> str:
    """`text` percent-decoded once; escapes that are not UTF-8 (`%c0%ae`) are refused."""
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise InvalidArguments(f"{where}: a percent-escape that is not UTF-8") from None


def _deepest_reading(segment: str, where: str) -> str:
    """The segment decoded and NFKC-normalised until nothing changes."""
    reading = segment
    for _ in range(MAX_DECODINGS):
        if reading.isascii() and "%" not in reading:
            return reading  # no escape to decode, and NFKC keeps ASCII as it is
        decoded = _decode(_IIS_ESCAPE.sub(lambda m: chr(int(m[1], 16)), reading), where)
        following = unicodedata.normalize("NFKC", decoded)
        if following == reading:
            return reading
        reading = following
    raise InvalidArguments(f"{where}: a segment encoded more than {MAX_DECODINGS} times")


def _check_segment(segment: str, where: str) -> None:
    """InvalidArguments when some server could read `segment` as `.`/`..` or split it."""
    reading = _deepest_reading(segment, where)
    if "/" in reading or "\\" in reading:
        raise InvalidArguments(f"{where}: an encoded or full-width separator inside a segment")
    if "\0" in reading:
        raise InvalidArguments(f"{where}: path contains an encoded NUL byte")
    if segment in (".", "..") or "." not in reading:
        return
    # What Windows (trailing dots, spaces) or a `;parameter` cut could leave of it.
    core = "".join(reading.split(";", 1)[0].split())
    if core and not core.strip("."):
        raise InvalidArguments(
            f"{where}: a segment some servers read as `..` or `.` "
            "(encoded, full-width, with trailing dots or spaces, or `;`)"
        )


def path_facts(raw: str, where: str = "path") -> dict[str, Any]:
    """The normalised record for one path; InvalidArguments when it escapes its root."""
    if len(raw) > MAX_PATH:
        raise InvalidArguments(f"{where}: path longer than {MAX_PATH} characters")
    if "\0" in raw:
        raise InvalidArguments(f"{where}: path contains a NUL byte")
    text = raw.replace("\\", "/")
    absolute = text.startswith("/")
    kept: list[str] = []
    for segment in text.split("/"):
        if segment:
            _check_segment(segment, where)
        if segment in ("", "."):
            continue
        if segment == "..":
            if not kept:
                raise InvalidArguments(f"{where}: `..` leaves the root of the path")
            kept.pop()
            continue
        kept.append(segment)
    lead = "/" if absolute else ""
    ancestors = [lead + "/".join(kept[:i]) for i in range(len(kept))]
    if not absolute:
        ancestors = ancestors[1:]  # a relative path has no enclosing "" folder
    return {
        "normalized": lead + "/".join(kept) if kept else (lead or "."),
        "ancestors": sorted(set(ancestors)),
        "segments": sorted(set(kept)),
    }


def uri_facts(uri: str) -> dict[str, Any]:
    """Scheme, authority and the normalised, percent-decoded path of a resource URI."""
    parts = urlsplit(uri)
    # One level of escapes is the URI's own; path_facts refuses what a second would do.
    segments = [_decode(s, "uri") for s in parts.path.replace("\\", "/").split("/")]
    if any("/" in s or "\\" in s for s in segments):
        raise InvalidArguments("uri: an encoded `/` inside a path segment")
    path = "/".join(segments)
    facts = path_facts(path, "uri") if path else {"normalized": "", "ancestors": [], "segments": []}
    return {
        "scheme": parts.scheme.lower(),
        "authority": parts.netloc.lower(),
        "path": facts["normalized"],
        "ancestors": facts["ancestors"],
        "segments": facts["segments"],
    }


# Top-level string arguments with these names are path-like even without
# `"format": "path"` (the names the MCP reference file system server uses).
PATH_ARGUMENT_NAMES = frozenset(
    {"path", "file_path", "filePath", "directory", "dir", "folder", "source", "destination"}
)


def path_arguments(input_schema: dict[str, Any], string_fields: dict[str, bool]) -> dict[str, bool]:
    """Path-like arguments of a tool → whether each is required.

    `string_fields` are the top-level `context.input` fields typed String (name →
    required); a field is path-like by `"format": "path"` or by its name.
    """
    properties = input_schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    found: dict[str, bool] = {}
    for name, required in string_fields.items():
        node = properties.get(name)
        marked = isinstance(node, dict) and node.get("format") == "path"
        if marked or name in PATH_ARGUMENT_NAMES:
            found[name] = required
    return found


def paths_context(arguments: dict[str, Any], fields: dict[str, bool]) -> dict[str, Any]:
    """`context.paths` for converted arguments: one record per path-like argument given."""
    return {
        name: path_facts(arguments[name], pointer("", name))
        for name in fields
        if isinstance(arguments.get(name), str)
    }
