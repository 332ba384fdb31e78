"""Domain errors of the decision path; each carries the deny code it maps to."""

from __future__ import annotations

# Every code a deny can carry (a forbid's verdict carries none); metrics count
# any other value as "other", so a code added here is one added to a label.
DENY_CODES = frozenset(
    {
        "no_policy",
        "unknown_tool",
        "unknown_method",
        "invalid_arguments",
        "invalid_token",
        "token_expired",
        "evaluation_error",
        "store_unavailable",
        "header_mismatch",
    }
)


class DecisionError(Exception):
    """An error that ends a decision in deny with `code`; each argument is one problem."""

    code = "evaluation_error"

    @property
    def messages(self) -> tuple[str, ...]:
        """One line per problem, as a deny's `errors` lists them."""
        return tuple(map(str, self.args)) or (type(self).__name__,)

    def __str__(self) -> str:
        return "; ".join(self.messages)


class UnknownTool(DecisionError):
    """The tool is not in the registry."""

    code = "unknown_tool"


class UnknownMethod(DecisionError):
    """The MCP method has no action."""

    code = "unknown_method"


class HeaderMismatch(DecisionError):
    """The MCP HTTP headers the gateway received disagree with the request body."""

    code = "header_mismatch"


class InvalidArguments(DecisionError):
    """The tool call's arguments do not fit the tool's inputSchema."""

    code = "invalid_arguments"


class EvaluationError(DecisionError):
    """Cedar could not evaluate the request."""

    code = "evaluation_error"


class StoreUnavailable(DecisionError):
    """The role/attribute store could not be read."""

    code = "store_unavailable"


class NoPolicySet(DecisionError):
    """No policy set has been loaded yet (start-up, or the database is away)."""


class PolicyLoadError(Exception):
    """A policy set, stub or tool registry that cannot be activated."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")
