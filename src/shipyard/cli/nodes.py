"""For `shipyard status`: where the workers ran on a Ray cluster, from the run's `WorkerPlaced` events."""

from __future__ import annotations

from typing import Any

from shipyard.board.base import Board

_PAGE = 5000


def node_summary(board: Board) -> dict[str, dict[str, Any]]:
    """Per node address: the tasks placed there (a task placed twice counts twice) and the agents that
    worked there; empty for a run whose workers ran on this machine."""
    nodes: dict[str, dict[str, Any]] = {}
    since = 0
    while events := board.events(since=since, limit=_PAGE):
        since = events[-1].id
        for event in events:
            if event.kind != "WorkerPlaced":
                continue
            node = nodes.setdefault(str(event.data.get("node", "?")), {"tasks": 0, "agents": []})
            node["tasks"] += 1
            if event.agent and event.agent not in node["agents"]:
                node["agents"].append(event.agent)
    for node in nodes.values():
        node["agents"].sort(key=lambda name: (len(name), name))
    return dict(sorted(nodes.items()))


def node_line(node: dict[str, Any]) -> str:
    agents = node["agents"]
    shown = ", ".join(agents[:6]) + (f" and {len(agents) - 6} more" if len(agents) > 6 else "")
    return f"{node['tasks']} tasks placed, by {shown or 'no agent'}"
