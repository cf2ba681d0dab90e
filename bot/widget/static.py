"""The widget's static files (``/widget.js``, ``/widget.css``), the demo page at ``/``, and the
CORS policy that lets the allowed sites call the widget API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse

from bot.config import Settings

WIDGET_DIR = Path(__file__).resolve().parents[2] / "web_widget"
# Short enough that a fixed widget reaches every embedding site within minutes.
_CACHE = "public, max-age=300"

DEMO_PATH = "/"

router = APIRouter(include_in_schema=False)


def _serve(name: str, media_type: str, cache: str = _CACHE) -> FileResponse:
    path = WIDGET_DIR / name
    if not path.is_file():
        raise HTTPException(404, f"{name} is not installed")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": cache})


@router.get("/widget.js")
def widget_js() -> FileResponse:
    return _serve("widget.js", "text/javascript; charset=utf-8")


@router.get("/widget.css")
def widget_css() -> FileResponse:
    return _serve("widget.css", "text/css; charset=utf-8")


@router.get(DEMO_PATH)
def demo_page() -> FileResponse:
    return _serve("demo.html", "text/html; charset=utf-8", cache="no-cache")


def add_cors(app: FastAPI, settings: Settings) -> None:
    """Let the allowed origins call the widget API (WebSockets check Origin themselves)."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
