"""The `sim` model's programmed roles, turn by turn, without a fleet."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from shipyard.domain import Role
from shipyard.models.base import Message, ModelRequest, ModelResponse, ToolCall, ToolSpec
from shipyard.models.sim import SimModel, SimWorkload, default_goal

W = SimWorkload(tasks=12, think_ms=0, hot_share=0.5, hot_files=2, area_size=5, per_planner=4)
PLANNER_TOOLS = (ToolSpec("list_dir", "", {}), ToolSpec("create_task", "", {}), ToolSpec("finish", "", {}))
DELEGATE = ToolSpec("delegate", "", {})


def ask(model: SimModel, role: Role, prompt: str, *turns: tuple[ModelResponse, list[str]]) -> ModelResponse:
    """The model's reply after `turns` (each a reply and the results of its tool calls, in order)."""
    messages = [Message("system", "sys"), Message("user", prompt)]
    for reply, results in turns:
        messages.append(Message("assistant", "", reply.tool_calls))
        messages += [
            Message("tool", r, tool_call_id=c.id) for c, r in zip(reply.tool_calls, results, strict=True)
        ]
    tools = PLANNER_TOOLS + ((DELEGATE,) if "delegate" in prompt else ())
    return asyncio.run(model.complete(ModelRequest(tuple(messages), tools, role, "agent")))


def names(reply: ModelResponse) -> list[str]:
    return [c.name for c in reply.tool_calls]


def listing(w: SimWorkload, calls: tuple[ToolCall, ...], present: set[int]) -> list[str]:
    """What `list_dir` would answer for each call when the tasks in `present` have landed."""
    out = []
    for c in calls:
        area = c.arguments["path"]
        files = [w.own_name(i) for i in sorted(present) if w.area_dir(i // w.area_size) == area]
        out.append("\n".join([f"`{area}`:", *files]) if files else f"error: `{area}` is not a folder")
    return out


def test_the_workload_is_a_pure_function_of_its_seed() -> None:
    assert [W.scope(i) for i in range(12)] == [SimWorkload(**vars(W)).scope(i) for i in range(12)]
    assert W.own_path(7) == "sim/a001/t00007.txt"
    assert sum(W.hot_path(i) is not None for i in range(1000)) in range(400, 600)
    other = replace(W, seed=1)
    assert [W.hot_path(i) for i in range(40)] != [other.hot_path(i) for i in range(40)]


def test_think_times_have_the_intended_mean_even_in_short_runs() -> None:
    w = SimWorkload(think_ms=200, think_jitter=0.5)
    times = [w.think_s(i) for i in range(8)]
    assert all(0.1 <= t <= 0.3 for t in times)
    assert abs(sum(times) / 8 - 0.2) < 0.02
    assert SimWorkload(think_ms=200, think_jitter=0).think_s(3) == 0.2


def test_root_planner_lists_then_writes_a_task_for_each_missing_file() -> None:
    model = SimModel(replace(W, tasks=3))
    first = ask(model, Role.PLANNER, "(none: fresh start)")
    assert names(first) == ["list_dir"]
    second = ask(
        model, Role.PLANNER, "(none: fresh start)", (first, listing(model.workload, first.tool_calls, {1}))
    )
    assert names(second) == ["create_task", "create_task", "finish"]
    assert [c.arguments["title"] for c in second.tool_calls[:2]] == ["sim task 0", "sim task 2"]
    assert second.usage.total > 0 and second.cost_usd > 0


def test_a_large_range_is_delegated_in_ranges_that_sub_planners_plan() -> None:
    model = SimModel(W)
    first = ask(model, Role.PLANNER, "(none: fresh start) delegate")
    second = ask(
        model, Role.PLANNER, "(none: fresh start) delegate", (first, listing(W, first.tool_calls, set()))
    )
    delegated = [c.arguments for c in second.tool_calls if c.name == "delegate"]
    assert len(delegated) == 3 and names(second)[-1] == "finish"
    scopes = [d["scope"] for d in delegated]
    assert scopes == [["sim/a000"], ["sim/a001"], ["sim/a002"]]  # whole areas: delegations never overlap
    prompt = f"{delegated[1]['title']}\n{delegated[1]['description']}\n(none yet)"
    sub = ask(model, Role.SUBPLANNER, prompt)
    done = ask(model, Role.SUBPLANNER, prompt, (sub, listing(W, sub.tool_calls, set())))
    created = [c.arguments for c in done.tool_calls if c.name == "create_task"]
    assert [c["title"] for c in created] == ["sim task 5", "sim task 6", "sim task 7", "sim task 8"]
    assert all(c["scope"] == [W.own_path(int(c["title"].split()[-1]))] for c in created)  # inside its area


def test_on_a_wake_up_only_planners_that_wrote_code_tasks_plan_again() -> None:
    model = SimModel(replace(W, tasks=3))
    delegated = ask(model, Role.PLANNER, "# Handoffs\n- #1 [done] sim tasks 0-5")
    assert names(delegated) == ["finish"]
    wake = "# Handoffs\n- #4 [failed] sim task 2\n- #3 [done] sim task 1"
    first = ask(model, Role.PLANNER, wake)
    second = ask(model, Role.PLANNER, wake, (first, listing(model.workload, first.tool_calls, {0, 1})))
    assert [c.arguments["title"] for c in second.tool_calls if c.name == "create_task"] == ["sim task 2"]


def test_a_worker_writes_its_file_and_appends_to_its_hot_file() -> None:
    model = SimModel(W)
    hot = next(i for i in range(12) if W.hot_path(i))
    first = ask(model, Role.WORKER, f"# Task: sim task {hot}")
    assert names(first) == ["write_file", "read_file"]
    old = f"`{W.hot_path(hot)}` lines 1-1 of 1\n     1\ttask 99: landed"
    second = ask(model, Role.WORKER, f"# Task: sim task {hot}", (first, ["wrote", old]))
    assert names(second) == ["write_file", "finish"]
    assert second.tool_calls[0].arguments["content"] == f"task 99: landed\ntask {hot}: landed\n"
    cold = next(i for i in range(12) if not W.hot_path(i))
    assert names(ask(model, Role.WORKER, f"# Task: sim task {cold}")) == ["write_file", "finish"]


def test_a_worker_resolves_a_conflict_by_keeping_both_sides() -> None:
    model = SimModel(W)
    hot = next(i for i in range(12) if W.hot_path(i))
    prompt = f"# Task: sim task {hot}\nMERGE CONFLICT: ..."
    first = ask(model, Role.WORKER, prompt)
    assert names(first) == ["read_file", "read_file"]
    marked = "<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> main"
    rows = "\n".join(f"{n:>6}\t{line}" for n, line in enumerate(marked.splitlines(), 1))
    own = f"`x` lines 1-2 of 2\n     1\tsim task {hot}\n     2\tseed 0"
    second = ask(model, Role.WORKER, prompt, (first, [own, f"`hot` lines 1-5 of 5\n{rows}"]))
    assert names(second) == ["write_file", "finish"]
    assert second.tool_calls[0].arguments == {"path": W.hot_path(hot), "content": "mine\ntheirs\n"}


def test_the_judge_stops_only_when_every_task_landed() -> None:
    model = SimModel(W)
    first = ask(model, Role.JUDGE, "judge")
    assert names(first) == ["list_dir"] * 3
    missing = ask(model, Role.JUDGE, "judge", (first, listing(W, first.tool_calls, set(range(11)))))
    assert missing.tool_calls[0].arguments["decision"] == "continue"
    assert "missing: 11" in missing.tool_calls[0].arguments["notes"]
    every = ask(model, Role.JUDGE, "judge", (first, listing(W, first.tool_calls, set(range(12)))))
    assert every.tool_calls[0].arguments["decision"] == "stop"


def test_the_default_goal_names_the_workload() -> None:
    assert "12 programmed tasks" in default_goal(W)
