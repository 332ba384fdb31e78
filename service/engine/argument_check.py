"""Call arguments checked against the tool's whole `inputSchema`, with jsonschema.

The schema is compiled once per tool (the registry gate refuses one that is
not a valid schema, with the reason). A call whose arguments do not fit is a
deny `invalid_arguments`, one error per failing field, each naming its JSON
pointer: `/filters/0/amount: 5000 is greater than the maximum of 1000`.

- Dialect: the schema's `$schema` (drafts 3, 4, 6, 7, 2019-09, 2020-12), else
  2020-12, as MCP says. An unknown `$schema` is refused.
- `$ref`: only inside the schema itself (`#…`); nothing is ever fetched.
- `format`: checked for `date-time` (RFC 3339), `date`, `email`, `ipv4`,
  `ipv6` and `uuid`; other formats are annotations, as the drafts allow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import referencing.exceptions
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError, best_match, relevance
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import specification_with

from service.engine.date_times import is_date_time
from service.engine.errors import InvalidArguments
from service.engine.input_types import pointer

MAX_ERRORS = 10  # reported per call
MAX_MESSAGE = 200  # characters per error; a long value is cut, not echoed whole
_READ = 50  # errors looked at to pick the most relevant ten

FORMATS = FormatChecker(formats=("date", "email", "ipv4", "ipv6", "uuid"))
FORMATS.checks("date-time")(is_date_time)


class InputSchemaError(ValueError):
    """An inputSchema that cannot be used to check arguments."""


class ArgumentValidator:
    """One tool's inputSchema, compiled once; `problem` says why it could not be."""

    def __init__(self, schema: Any) -> None:
        self.problem: str | None = None
        self._validator: Validator | None = None
        try:
            self._validator = compile_schema(schema)
        except InputSchemaError as exc:
            self.problem = str(exc)
        except RecursionError:
            self.problem = "nested too deeply to be checked"

    def check(self, arguments: dict[str, Any]) -> None:
        """Raise InvalidArguments naming each failing field, or return."""
        if self._validator is None:
            raise InvalidArguments(f"the tool's inputSchema cannot be used: {self.problem}")
        errors = self._validator.iter_errors(arguments)
        try:
            first = next(errors, None)
            if first is None:
                return
            found = sorted([first, *islice(errors, _READ)], key=relevance, reverse=True)
        except RecursionError:  # a recursive schema and a value nested deeper than Python's stack
            raise InvalidArguments("/: nested too deeply to be checked") from None
        messages = list(dict.fromkeys(m for e in found for m in _messages(e)))
        raise InvalidArguments(*messages[:MAX_ERRORS])


def compile_schema(schema: Any) -> Validator:
    """A validator for `schema` in its own dialect; InputSchemaError saying what is wrong."""
    if not isinstance(schema, dict):
        raise InputSchemaError("must be a JSON object")
    dialect = schema.get("$schema")
    if dialect is not None and not isinstance(dialect, str):
        raise InputSchemaError("$schema must be a string")
    cls: type[Validator] | None = (
        validators.validator_for(schema, default=None)
        if dialect is not None
        else Draft202012Validator
    )
    if cls is None:
        raise InputSchemaError(
            f"unknown $schema {dialect!r}: drafts 3, 4, 6, 7, 2019-09 and 2020-12 are read"
        )
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise InputSchemaError(f"{_where(exc.absolute_path)}: {_cut(exc.message)}") from None
    _check_references(schema, dialect)
    return cls(schema, format_checker=FORMATS)


def _check_references(schema: dict[str, Any], dialect: str | None) -> None:
    """Every `$ref` must resolve inside the schema: nothing is fetched at decision time."""
    specification = specification_with(dialect or Draft202012Validator.META_SCHEMA["$id"])
    resolver = Registry().resolver_with_root(specification.create_resource(schema))
    for ref in sorted(set(_references(schema))):
        if not ref.startswith("#"):
            raise InputSchemaError(
                f"$ref {ref}: only references inside the inputSchema (#/…) are supported"
            )
        try:
            resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            raise InputSchemaError(f"$ref {ref} points at nothing") from None


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key not in ("const", "enum", "default", "examples"):  # values, not schemas
                yield from _references(value)


def _messages(error: ValidationError) -> list[str]:
    """Each failing field of one error as `pointer: what is wrong`."""
    best = best_match([error]) or error  # into anyOf/oneOf: the branch that came closest
    where = _where(best.absolute_path)
    instance, schema = best.instance, best.schema
    if best.validator == "required" and isinstance(instance, dict):
        names = [n for n in best.validator_value if isinstance(n, str) and n not in instance]
        return [f"{pointer(_path(best.absolute_path), n)}: required" for n in names]
    if best.validator == "additionalProperties" and isinstance(instance, dict):
        declared = schema.get("properties", {}) if isinstance(schema, dict) else {}
        patterns = list(schema.get("patternProperties", {})) if isinstance(schema, dict) else []
        extra = [k for k in instance if k not in declared and not _matches(k, patterns)]
        if extra and best.validator_value is False:
            return [
                f"{pointer(_path(best.absolute_path), k)}: not declared in the tool's inputSchema"
                for k in extra
            ]
    return [_cut(f"{where}: {best.message}")]


def _matches(key: str, patterns: Iterable[str]) -> bool:
    return any(re.search(p, key) for p in patterns)


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text = pointer(text, part)
    return text


def _where(parts: Iterable[Any]) -> str:
    return _path(parts) or "/"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
