"""Supervisors' analytics: the dashboard of how support is going, and the knowledge gaps."""

from pathlib import Path

from bot.analytics.routes import make_analytics_router
from bot.analytics.service import Analytics

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

__all__ = ["TEMPLATES_DIR", "Analytics", "make_analytics_router"]
