"""`format: date-time` arguments: RFC 3339 parsing, and the facts policies compare.

A date-time argument stays a String in `context.input` (what the tool gets),
and also appears in `context.times` at the same place as

    {datetime: datetime, epoch: Long}

`datetime` is Cedar's `datetime` extension value, in UTC to the millisecond
(compare with `datetime("2026-07-01")`, or use `.toDate()`, `.offset(...)`);
`epoch` is whole seconds since 1970, comparable with `context.request.time`.
Cedar's own `datetime("…")` accepts only `Z` or `±hhmm` offsets and exactly three
fraction digits, so every RFC 3339 value is normalised to `…THH:MM:SS.mmmZ`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from service.engine.cedar_text import cedar_string
from service.engine.errors import InvalidArguments
from service.engine.input_types import CedarType, pointer

TIME_FACTS_TYPE = '{"datetime": datetime, "epoch": Long}'
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)


def parse_date_time(text: str) -> datetime:
    """An RFC 3339 `date-time` as an aware UTC datetime; ValueError when it is none."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError("not an RFC 3339 date-time")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, sign, offset_hours, offset_minutes = match.groups()[6:]
    # RFC 3339 allows a leap second; Python's datetime does not: read 60 as 59.999.
    leap = second == 60
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    when = datetime(year, month, day, hour, minute, 59 if leap else second, micro, tzinfo=UTC)
    if leap:
        when = when.replace(microsecond=999_999)
    if sign is not None:
        if int(offset_hours) > 23 or int(offset_minutes) > 59:
            raise ValueError("offset out of range")
        offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
        when = when - offset if sign == "+" else when + offset
    return when


def is_date_time(value: object) -> bool:
    """The `date-time` format check: strings must be RFC 3339, other types pass."""
    if not isinstance(value, str):
        return True
    try:
        parse_date_time(value)
    except (ValueError, OverflowError):
        return False
    return True


def time_facts(text: str) -> dict[str, Any]:
    """`{datetime, epoch}` in Cedar's JSON form for a valid RFC 3339 date-time."""
    when = parse_date_time(text)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S") + f".{when.microsecond // 1000:03d}Z"
    since = when - datetime(1970, 1, 1, tzinfo=UTC)
    epoch = since.days * 86_400 + since.seconds  # whole seconds, rounded down
    return {"datetime": {"__extn": {"fn": "datetime", "arg": stamp}}, "epoch": epoch}


# Where a record's date-times are: property → (required, None for a date-time or
# the same for a nested record). Sets and maps are not followed: a policy could
# not name one of their items.
TimeFields = dict[str, tuple[bool, "TimeFields | None"]]


def time_fields(typ: CedarType) -> TimeFields:
    """The date-time properties of a record type, nested records included."""
    found: TimeFields = {}
    for name, (attribute, required) in typ.attributes.items():
        if attribute.kind == "String" and attribute.date_time:
            found[name] = (required, None)
        elif attribute.kind == "Record":
            inner = time_fields(attribute)
            if inner:
                found[name] = (required, inner)
    return found


def times_type(fields: TimeFields) -> str:
    """The Cedar type of `context.times` for these fields."""
    parts = [
        f"{cedar_string(name)}{'' if required else '?'}: "
        f"{TIME_FACTS_TYPE if inner is None else times_type(inner)}"
        for name, (required, inner) in sorted(fields.items())
    ]
    return "{" + ", ".join(parts) + "}"


def times_context(fields: TimeFields, value: dict[str, Any], path: str = "") -> dict[str, Any]:
    """`context.times` for converted arguments; InvalidArguments for a value not RFC 3339."""
    out: dict[str, Any] = {}
    for name, (_required, inner) in fields.items():
        item = value.get(name)
        if inner is not None and isinstance(item, dict):
            out[name] = times_context(inner, item, pointer(path, name))
        elif inner is None and isinstance(item, str):
            try:
                out[name] = time_facts(item)
            except (ValueError, OverflowError):
                where = pointer(path, name)
                raise InvalidArguments(f"{where}: not an RFC 3339 date-time") from None
    return out
