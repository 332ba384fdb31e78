"""Seeding the database without the admin API: roles, assignments and attributes.

The tool registry is not part of a seed: `service/policies/registry.py` writes it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.store.principals import assign_role, set_attributes
from service.store.roles import put_role


def read_json(path: Path) -> Any:
    """Parse a JSON file, naming the file on error."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


async def apply_seed(
    *, session: AsyncSession, document: dict[str, Any], actor: str = "seed"
) -> None:
    """Apply roles (parents first), assignments and attributes; idempotent."""
    roles = document.get("roles", [])
    pending = {r["name"]: r for r in roles}
    while pending:  # create parents before children
        ready = [r for r in pending.values() if not set(r.get("parents", [])) & set(pending)]
        if not ready:
            raise ValueError(f"role parents form a cycle among: {', '.join(sorted(pending))}")
        for role in ready:
            await put_role(
                session=session,
                name=role["name"],
                description=role.get("description", ""),
                parents=role.get("parents", []),
                actor=actor,
            )
            del pending[role["name"]]
    for item in document.get("assignments", []):
        expires = item.get("expires_at")
        await assign_role(
            session=session,
            principal_id=item["principal"],
            role=item["role"],
            expires_at=datetime.fromisoformat(expires) if expires else None,
            reason=item.get("reason", "seed"),
            actor=actor,
        )
    for principal_id, attributes in document.get("attributes", {}).items():
        await set_attributes(
            session=session, principal_id=principal_id, changes=attributes, actor=actor
        )
