"""Dependencies the routes take: what the lifespan built, by type."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from service.decisions import DecisionService
from service.policy_holder import PolicyHolder
from service.settings import Settings


def _decision_service(request: Request) -> DecisionService:
    service: DecisionService = request.app.state.decisions
    return service


def _policies(request: Request) -> PolicyHolder:
    holder: PolicyHolder = request.app.state.policies
    return holder


def _db_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.db_engine
    return engine


DecisionServiceDep = Annotated[DecisionService, Depends(_decision_service)]
PoliciesDep = Annotated[PolicyHolder, Depends(_policies)]
DbEngineDep = Annotated[AsyncEngine, Depends(_db_engine)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]
