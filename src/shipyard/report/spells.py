"""Red spells of the shared branch, folded from the log: when it went red, the culprit merge, the fix
tasks, how long until green again, and the share of merges that landed on a green branch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipyard.domain import Event

KINDS = ("MainRed", "CulpritFound", "FixWritten", "MainGreen")


@dataclass
class RedSpells:
    spells: list[dict[str, Any]] = field(default_factory=list)
    merges: int = 0
    merges_while_red: int = 0

    @property
    def red(self) -> bool:
        return bool(self.spells) and self.spells[-1]["red_s"] is None

    def merged(self) -> None:
        self.merges += 1
        self.merges_while_red += 1 if self.red else 0

    def apply(self, e: Event) -> None:
        if e.kind == "MainRed":
            spell = {"since": e.ts, "sha": e.data.get("sha"), "culprit": None, "culprit_task": None}
            self.spells.append({**spell, "fixes": [], "red_s": None})
        elif not self.spells:
            return
        elif e.kind == "CulpritFound":
            self.spells[-1].update(culprit=e.data.get("sha"), culprit_task=e.task_id)
        elif e.kind == "FixWritten":
            self.spells[-1]["fixes"].append(e.task_id)
        elif e.kind == "MainGreen":
            self.spells[-1]["red_s"] = e.data.get("red_s")

    def view(self, now: float) -> dict[str, Any]:
        closed = [s["red_s"] for s in self.spells if s["red_s"] is not None]
        green = None if not self.merges else round(1 - self.merges_while_red / self.merges, 4)
        return {
            "red": self.red,
            "red_for_s": round(now - self.spells[-1]["since"], 1) if self.red else None,
            "red_spells": self.spells[-20:],
            "red_to_green_s": {"spells": len(closed), "max": max(closed, default=None), "total": sum(closed)},
            "green_share_of_merges": green,
        }
