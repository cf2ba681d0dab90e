"""Dependency aliases: the long-lived services that the lifespan put on ``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bot.answering.engine import Engine
from bot.chat.service import ChatService
from bot.config import Settings
from handoff.policy import PolicyConfig


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_policy(request: Request) -> PolicyConfig:
    return request.app.state.policy


def get_chat(request: Request) -> ChatService:
    return request.app.state.chat


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
PolicyDep = Annotated[PolicyConfig, Depends(get_policy)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
