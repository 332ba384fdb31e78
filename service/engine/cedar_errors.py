"""Which policies a Cedar evaluation error is about, read from its text.

Cedar skips a policy whose evaluation errors and reports it only as text,
"error while evaluating policy `<id>`: <what went wrong>". Skipping a permit
withholds a grant, which is safe; skipping a forbid turns a deny into an
allow, which is not. So an error counts as a permit's only when its text has
that form and every known policy id it can be read as is a permit's: an id
may itself hold a backtick, and cut at the first one `a`b` would read as
`a`. Any other text, or an id not in the policy set, is not a permit's, and
the decision fails closed.

The text is Cedar's wording, not its API: pyproject.toml keeps cedarpy below
its next major version, and a new wording denies rather than allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from service.engine.policies import PolicyInfo

PREFIX = "error while evaluating policy `"
END_OF_ID = "`: "


def policies_named(error: str, policies: Mapping[str, PolicyInfo]) -> list[PolicyInfo]:
    """Every known policy `error` can be read as being about (none for another form)."""
    if not error.startswith(PREFIX):
        return []
    rest = error[len(PREFIX) :]
    named = []
    end = rest.find(END_OF_ID)
    while end >= 0:
        info = policies.get(rest[:end])
        if info is not None:
            named.append(info)
        end = rest.find(END_OF_ID, end + 1)
    return named


def only_permits_failed(errors: Iterable[str], policies: Mapping[str, PolicyInfo]) -> bool:
    """Whether every error is surely a permit's, so an Allow despite them still holds."""
    for error in errors:
        named = policies_named(error, policies)
        if not named or any(info.effect != "permit" for info in named):
            return False
    return True
