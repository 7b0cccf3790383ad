"""The dashboard's ASGI app: the page, a JSON API over the board, and the live event stream."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from shipyard.board.base import Board
from shipyard.errors import UserError
from shipyard.fleet.status import StatusOptions
from shipyard.web import control
from shipyard.web.security import Guard, GuardMiddleware
from shipyard.web.state import LiveState
from shipyard.web.stream import StreamFilter, StreamTiming, event_stream

_STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css", "index.html": "text/html"}


@dataclass(frozen=True)
class DashboardOptions:
    """How the app behaves: status options, stream timing, and who may use it."""

    status: StatusOptions = field(default_factory=StatusOptions)
    timing: StreamTiming = field(default_factory=StreamTiming)
    guard: Guard = field(default_factory=lambda: Guard(token=None, loopback_only=True))


class SteerBody(BaseModel):
    message: str = Field(max_length=control.MAX_MESSAGE_CHARS * 2)


class ControlBody(BaseModel):
    action: Literal["pause", "unpause", "stop"]


class CancelBody(BaseModel):
    reason: str = Field("", max_length=500)


class PriorityBody(BaseModel):
    priority: int = Field(ge=-1_000_000, le=1_000_000)


def create_app(board: Board, options: DashboardOptions | None = None) -> FastAPI:
    """The app over `board`; `app.state.stopping` ends open event streams when the server shuts down."""
    opts = options or DashboardOptions()
    live = LiveState(board, opts.status)
    app = FastAPI(title="Shipyard dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.stopping = threading.Event()
    app.add_middleware(GuardMiddleware, guard=opts.guard)

    @app.exception_handler(UserError)
    async def _user_error(_request: Request, exc: UserError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    _page_routes(app)
    _read_routes(app, live, opts.timing)
    _write_routes(app, board)
    return app


def _static(name: str) -> Response:
    text = resources.files("shipyard.web").joinpath("static", name).read_text(encoding="utf-8")
    return Response(text, media_type=_STATIC[name], headers={"cache-control": "no-cache"})


def _page_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return _static("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in _STATIC:
            return JSONResponse({"error": f"no file {name}"}, status_code=404)
        return _static(name)


def _read_routes(app: FastAPI, live: LiveState, timing: StreamTiming) -> None:
    @app.get("/api/state")
    def state() -> dict[str, Any]:
        return live.state()

    @app.get("/api/tasks")
    def tasks() -> list[dict[str, Any]]:
        return live.tasks()

    @app.get("/api/recent")
    def recent() -> list[dict[str, Any]]:
        return live.recent()

    @app.get("/api/transcript")
    def transcript(agent: str, limit: Annotated[int, Query(ge=1, le=2000)] = 300) -> list[dict[str, Any]]:
        return live.transcript(agent, limit)

    @app.get("/api/events")
    async def events(
        request: Request,
        since: Annotated[int, Query(ge=0)] = 0,
        agent: str | None = None,
        kinds: str = "",
        clip: Annotated[int | None, Query(ge=20)] = None,
        follow: bool = True,
    ) -> StreamingResponse:
        last = request.headers.get("last-event-id", "")
        start = max(since, int(last)) if last.isdigit() else since
        wanted = frozenset(k for k in kinds.split(",") if k)
        flt = StreamFilter(start, agent, wanted, clip, follow)
        stopping: threading.Event = request.app.state.stopping

        async def should_end() -> bool:
            return stopping.is_set() or await request.is_disconnected()

        stream = event_stream(live.board, flt, timing, should_end)
        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def _write_routes(app: FastAPI, board: Board) -> None:
    @app.post("/api/steer")
    def steer(body: SteerBody) -> dict[str, Any]:
        event = control.steer(board, body.message, source="dashboard")
        return {"ok": True, "event_id": event.id, "steering": board.get_meta("steering")}

    @app.post("/api/control")
    def run_control(body: ControlBody) -> dict[str, Any]:
        event = control.control(board, body.action, source="dashboard")
        return {"ok": True, "event_id": event.id, "control": board.get_meta("control") or ""}

    @app.post("/api/tasks/{task_id}/cancel")
    def cancel(task_id: int, body: CancelBody) -> dict[str, Any]:
        task = control.cancel_task(board, task_id, body.reason or "cancelled from the dashboard")
        return {"ok": True, "status": task.status.value}

    @app.post("/api/tasks/{task_id}/priority")
    def priority(task_id: int, body: PriorityBody) -> dict[str, Any]:
        task = control.set_priority(board, task_id, body.priority)
        return {"ok": True, "priority": task.spec.priority}
