"""Tools as the registry holds them, and their Cedar action groups."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from service.engine.argument_check import ArgumentValidator
from service.engine.date_times import TimeFields, time_fields, times_context, times_type
from service.engine.input_schema import from_json_schema
from service.engine.input_types import EMPTY_RECORD, CedarType, convert
from service.engine.methods import (
    CALL_TOOL,
    DESTRUCTIVE_TOOLS,
    READ_ONLY_TOOLS,
    RESERVED_ACTIONS,
)
from service.engine.paths import path_arguments, paths_context

# MCP's tool name charset (SEP-986): what an action id may be.
TOOL_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")
TAGS_META_KEY = "mcp-pdp/tags"


class ToolDefinitionError(ValueError):
    """A tool description that cannot be registered."""


@dataclass(frozen=True)
class Tool:
    """One registered tool: what the gateway lists, plus our grouping tags."""

    name: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    @cached_property
    def input_type(self) -> CedarType:
        """The Cedar type of `context.input` for this tool (a record, maybe empty)."""
        typ = from_json_schema(self.input_schema)
        return typ if typ is not None and typ.kind == "Record" else EMPTY_RECORD

    @cached_property
    def validator(self) -> ArgumentValidator:
        """The whole inputSchema compiled once, to check call arguments against."""
        return ArgumentValidator(self.input_schema)

    @cached_property
    def time_fields(self) -> TimeFields:
        """Date-time arguments (outside Sets) that get facts in `context.times`."""
        return time_fields(self.input_type)

    @cached_property
    def times_type(self) -> str | None:
        """The Cedar type of `context.times`; None when the tool takes no date-time."""
        return times_type(self.time_fields) if self.time_fields else None

    def prepare(self) -> None:
        """Build the cached schema parts now, with the snapshot, not on the first call."""
        _ = (self.input_type, self.validator, self.time_fields, self.path_fields)

    def call_context(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """`input`, and `paths`/`times` where the tool has them; raises InvalidArguments."""
        self.validator.check(arguments)
        converted = convert(self.input_type, arguments)
        context: dict[str, Any] = {"input": converted}
        if self.path_fields:
            context["paths"] = paths_context(converted, self.path_fields)
        if self.time_fields:
            context["times"] = times_context(self.time_fields, converted)
        return context

    @cached_property
    def path_fields(self) -> dict[str, bool]:
        """Path-like arguments (→ required) that get a record in `context.paths`."""
        strings = {
            name: required
            for name, (typ, required) in self.input_type.attributes.items()
            if typ.kind == "String" and typ.enum is None
        }
        return path_arguments(self.input_schema, strings)

    @property
    def groups(self) -> tuple[str, ...]:
        """Action groups: CallTool, the annotation groups, then tag groups."""
        read_only = self.annotations.get("readOnlyHint") is True
        # MCP defaults: readOnlyHint false, destructiveHint true.
        destructive = not read_only and self.annotations.get("destructiveHint") is not False
        groups = [CALL_TOOL]
        if read_only:
            groups.append(READ_ONLY_TOOLS)
        if destructive:
            groups.append(DESTRUCTIVE_TOOLS)
        return (*groups, *self.tags)


def tool_from_mcp(item: Any) -> Tool:
    """Build a Tool from one entry of a `tools/list` result, validating it."""
    if not isinstance(item, dict):
        raise ToolDefinitionError("each tool must be an object")
    name = item.get("name")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise ToolDefinitionError(
            f"tool name {name!r} must be 1-128 characters of A-Z a-z 0-9 _ - ."
        )
    if name in RESERVED_ACTIONS:
        raise ToolDefinitionError(f"tool name {name!r} is reserved for an MCP method or group")
    schema = item.get("inputSchema", {})
    annotations = item.get("annotations") or {}
    description = item.get("description") or ""
    if not isinstance(schema, dict) or not isinstance(annotations, dict):
        raise ToolDefinitionError(f"{name}: inputSchema and annotations must be objects")
    if not isinstance(description, str):
        raise ToolDefinitionError(f"{name}: description must be a string")
    meta = item.get("_meta")
    if not isinstance(meta, dict):
        meta = {}
    tags = item.get("tags", meta.get(TAGS_META_KEY, []))
    if not isinstance(tags, list) or not all(
        isinstance(t, str) and TAG_NAME.fullmatch(t) for t in tags
    ):
        raise ToolDefinitionError(f"{name}: tags must be a list of names (A-Z a-z 0-9 _ - .)")
    tool = Tool(name, description, schema, annotations, tuple(sorted(set(tags))))
    if tool.validator.problem is not None:  # compiled here once, kept for every decision
        raise ToolDefinitionError(f"{name}: inputSchema: {tool.validator.problem}")
    return tool


def tools_from_list_result(document: Any) -> list[Tool]:
    """Tools from a `tools/list` result, a JSON-RPC response carrying one, or a bare array."""
    if isinstance(document, dict) and "result" in document:
        document = document["result"]
    if isinstance(document, dict):
        document = document.get("tools")
    if not isinstance(document, list):
        raise ToolDefinitionError('expected a tools/list result: {"tools": [...]}')
    tools = [tool_from_mcp(item) for item in document]
    names = [t.name for t in tools]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ToolDefinitionError(f"duplicate tool names: {', '.join(duplicates)}")
    clashes = sorted({tag for t in tools for tag in t.tags} & (set(names) | RESERVED_ACTIONS))
    if clashes:
        raise ToolDefinitionError(f"tags clash with tool or method names: {', '.join(clashes)}")
    return tools
