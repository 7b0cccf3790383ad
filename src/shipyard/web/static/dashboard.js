// Shipyard dashboard: reads /api/state, /api/tasks and the /api/events stream; renders with textContent only.
"use strict";

const STATUSES = ["open", "claimed", "done", "failed", "cancelled"];
const TRANSCRIPT = ["AgentStarted", "ModelCalled", "ToolCalled"];
const CARDS_PER_COLUMN = 40;
const FEED_ITEMS = 150;
const view = { state: null, tasks: [], offset: 0, selected: null, agentStream: null, timer: null, lastFed: 0 };

const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

const now = () => Date.now() / 1000 + view.offset;
const clock = (ts) => new Date(ts * 1000).toLocaleTimeString();
const money = (usd) => `$${Number(usd || 0).toFixed(4)}`;
const clip = (text, n) => (text.length > n ? `${text.slice(0, n)}… [${text.length} chars]` : text);

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const reply = await fetch(path, init);
  const data = await reply.json().catch(() => ({}));
  if (!reply.ok) {
    const why = data.error || (data.detail ? JSON.stringify(data.detail) : reply.statusText);
    throw new Error(why);
  }
  return data;
}

function setConn(live, text) {
  const conn = $("conn");
  conn.textContent = text;
  conn.className = `pill ${live ? "live" : "off"}`;
}

async function refresh() {
  try {
    const [state, tasks] = await Promise.all([api("/api/state"), api("/api/tasks")]);
    view.state = state;
    view.tasks = tasks;
    view.offset = state.generated_at - Date.now() / 1000;
    render();
  } catch (err) {
    setConn(false, `error: ${err.message}`);
  }
}

function scheduleRefresh() {
  if (view.timer !== null) return;
  view.timer = setTimeout(() => { view.timer = null; refresh(); }, 150);
}

function render() {
  const s = view.state;
  const runState = $("run-state");
  runState.textContent = s.control === "pause" ? `${s.state} (paused)` : s.state;
  runState.className = `pill ${s.control === "pause" ? "paused" : s.state}`;
  $("run-reason").textContent = s.reason;
  $("run-cycle").textContent = `cycle ${s.cycles} · ${s.events} events`;
  renderProblems(s.problems);
  renderAgents();
  renderBoard();
  renderHealth(s.health);
  renderCost(s);
  $("merge-counts").textContent = `${s.merged_commits} merged, ${s.conflicts} conflict${s.conflicts === 1 ? "" : "s"}`;
  $("steering").textContent = s.steering || "(no steering yet)";
}

function renderProblems(problems) {
  const items = problems.length
    ? problems.map((p) => el("li", { class: p.severity, "data-kind": p.kind }, p.text))
    : [el("li", { class: "ok" }, "none")];
  $("problems").replaceChildren(...items);
}

function renderAgents() {
  if (!view.state) return;
  const tasks = new Map(view.tasks.map((t) => [t.id, t]));
  const rows = view.state.agents.map((a) => {
    const busy = a.state !== "idle";
    const task = a.task_id === null ? "" : `#${a.task_id} ${(tasks.get(a.task_id) || {}).title || ""}`;
    const row = el("tr", { "data-agent": a.name, "data-state": a.state },
      el("td", { title: a.node || "" }, a.node ? `${a.name} @ ${a.node}` : a.name), el("td", {}, a.role), el("td", {}, a.stalled ? `${a.state} (stalled)` : a.state),
      el("td", {}, task), el("td", { class: "num" }, busy ? duration(now() - a.since) : ""),
      el("td", { class: "num" }, duration(now() - a.last_seen)), el("td", { class: "num" }, a.steps),
      el("td", { class: "num" }, a.tokens.toLocaleString()), el("td", { class: "num" }, money(a.cost_usd)),
      el("td", { class: "last", title: a.last_action }, a.last_action));
    if (a.stalled) row.classList.add("stalled");
    if (a.name === view.selected) row.classList.add("selected");
    row.addEventListener("click", () => selectAgent(a.name));
    return row;
  });
  $("agents").tBodies[0].replaceChildren(...rows);
}

function renderBoard() {
  const columns = STATUSES.map((status) => {
    const mine = view.tasks.filter((t) => t.status === status);
    mine.sort((a, b) => (status === "open" ? b.priority - a.priority || a.id - b.id : b.id - a.id));
    const cards = mine.slice(0, CARDS_PER_COLUMN).map((t) => el("div", { class: "card", "data-task": t.id },
      `#${t.id} ${t.title}`,
      el("div", { class: "meta" },
        `${t.kind} · p${t.priority} · ${t.attempts} attempt${t.attempts === 1 ? "" : "s"}${t.holder ? ` · ${t.holder}` : ""}`),
      ...(t.kept_attempts && t.kept_attempts.length
        ? [el("div", { class: "meta kept", title: `shipyard attempts ${t.id}; shipyard salvage ${t.id}` },
          `kept: attempt ${t.kept_attempts.join(", ")} · shipyard salvage ${t.id}`)]
        : [])));
    if (mine.length > CARDS_PER_COLUMN) cards.push(el("div", { class: "meta" }, `+${mine.length - CARDS_PER_COLUMN} more`));
    const count = view.state.tasks[status];
    return el("div", { class: "column", "data-status": status },
      el("h3", {}, `${status} `, el("span", { class: "count", "data-count": status }, count)), ...cards);
  });
  $("board").replaceChildren(...columns);
}

function renderHealth(h) {
  const last = h.last_check;
  const rows = [];
  const add = (term, value, cls) => rows.push(el("dt", {}, term), el("dd", { class: cls || "" }, value));
  if (!last) add("last check", "not run yet");
  else {
    add("last check", `${last.passed ? "passed" : `FAILED (exit ${last.exit_code})`} on ${String(last.sha).slice(0, 10)}`,
      last.passed ? "green" : "red");
    add("when", `${duration(now() - last.at)} ago${last.duration_s == null ? "" : `, took ${last.duration_s}s`}`);
    add("since green", last.passed ? "green now" : (h.last_green_at ? duration(now() - h.last_green_at) : "never green"),
      last.passed ? "green" : "red");
  }
  add("checks", `${h.checks} (${h.failures} failed)`);
  const spell = h.red && h.red_spells && h.red_spells[h.red_spells.length - 1];
  if (spell) {
    add("culprit", spell.culprit ? `merge of #${spell.culprit_task} (${String(spell.culprit).slice(0, 10)})` : "looking", "red");
    add("fix", spell.fixes.length ? spell.fixes.map((i) => `#${i}`).join(", ") : "not yet", "red");
  }
  const spells = h.red_to_green_s;
  if (spells && spells.spells) add("red spells", `${spells.spells} ended, longest ${duration(spells.max)}`);
  if (h.green_share_of_merges != null) add("merges on green", `${Math.round(h.green_share_of_merges * 100)}%`);
  $("health").replaceChildren(...rows);
}

function renderCost(s) {
  $("cost-total").textContent = `${s.tokens.toLocaleString()} tokens, ${money(s.cost_usd)}`;
  const cache = (s.cache && s.cache.by_role) || {};
  const hit = (role) => (cache[role] ? `${(100 * cache[role].hit_rate).toFixed(1)}%` : "-");
  const byRole = Object.entries(s.by_role).map(([role, r]) => el("tr", {},
    el("td", {}, role), el("td", { class: "num" }, r.tokens.toLocaleString()), el("td", { class: "num" }, money(r.cost_usd)),
    el("td", { class: "num" }, hit(role))));
  $("cost-role").tBodies[0].replaceChildren(...byRole);
  const byTask = s.by_task.slice(0, 15).map((r) => el("tr", {},
    el("td", {}, `#${r.task_id} ${r.title}`), el("td", { class: "num" }, r.tokens.toLocaleString()),
    el("td", { class: "num" }, money(r.cost_usd))));
  $("cost-task").tBodies[0].replaceChildren(...byTask);
}

function prepend(list, item) {
  list.prepend(item);
  while (list.children.length > FEED_ITEMS) list.lastChild.remove();
}

function addEvent(ev) {
  if (!ev.text || ev.id <= view.lastFed) return;  // /api/recent and the stream may overlap
  view.lastFed = ev.id;
  prepend($("activity"), el("li", { "data-kind": ev.kind }, el("time", {}, clock(ev.ts)), ev.text));
  if (ev.kind === "CommitMerged" || ev.kind === "MergeConflicted") {
    const cls = ev.kind === "CommitMerged" ? "merge" : "conflict";
    prepend($("merges"), el("li", { class: cls, "data-kind": ev.kind }, el("time", {}, clock(ev.ts)), ev.text));
  }
}

function details(summary, text, open) {
  const box = el("details", {}, el("summary", {}, summary), el("pre", {}, text));
  box.open = Boolean(open);
  return box;
}

function transcriptItem(ev) {
  const d = ev.data;
  const head = el("div", {}, el("time", {}, clock(ev.ts)));
  const item = el("li", { "data-kind": ev.kind, "data-id": ev.id }, head);
  if (ev.kind === "AgentStarted") {
    head.append(el("span", { class: "kind" }, `started as ${d.role}`), ev.task_id === null ? "" : ` on #${ev.task_id}`);
    item.append(details("system prompt", d.system || ""), details("prompt", d.prompt || "", true));
  } else if (ev.kind === "ModelCalled") {
    head.append(el("span", { class: "kind" }, `step ${d.step} · model`),
      ` (${d.input_tokens}+${d.output_tokens} tokens, ${money(d.cost_usd)})`);
    if (d.text) item.append(el("pre", {}, d.text));
    for (const call of d.calls || []) item.append(details(`→ ${call.name}`, clip(JSON.stringify(call.arguments, null, 1), 4000)));
  } else {
    head.append(el("span", { class: d.is_error ? "kind error" : "kind" }, `step ${d.step} · ${d.tool}${d.is_error ? " (error)" : ""}`));
    item.append(details("arguments", clip(d.args || "", 4000)), details("result", clip(d.result || "", 8000), true));
  }
  return item;
}

async function selectAgent(name) {
  if (view.agentStream) view.agentStream.close();
  view.selected = name;
  history.replaceState(null, "", `#agent=${encodeURIComponent(name)}`);
  $("transcript-section").hidden = false;
  $("transcript-agent").textContent = name;
  const list = $("transcript");
  list.replaceChildren();
  renderAgents();
  const items = await api(`/api/transcript?agent=${encodeURIComponent(name)}`);
  items.forEach((ev) => list.append(transcriptItem(ev)));
  const since = items.length ? items[items.length - 1].id : (view.state ? view.state.last_event_id : 0);
  const url = `/api/events?agent=${encodeURIComponent(name)}&kinds=${TRANSCRIPT.join(",")}&since=${since}`;
  view.agentStream = new EventSource(url);
  view.agentStream.onmessage = (msg) => list.append(transcriptItem(JSON.parse(msg.data)));
}

function closeAgent() {
  if (view.agentStream) view.agentStream.close();
  view.agentStream = null;
  view.selected = null;
  $("transcript-section").hidden = true;
  history.replaceState(null, "", location.pathname + location.search);
  renderAgents();
}

function follow(since) {
  const stream = new EventSource(`/api/events?since=${since}&clip=300`);
  stream.onopen = () => setConn(true, "live");
  stream.onerror = () => setConn(false, "reconnecting…");
  stream.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (!TRANSCRIPT.includes(ev.kind)) addEvent(ev);
    scheduleRefresh();
  };
}

async function post(path, body, note) {
  try {
    await api(path, body);
    note.textContent = "done";
    scheduleRefresh();
    return true;
  } catch (err) {
    note.textContent = `refused: ${err.message}`;
    return false;
  }
}

function wire() {
  $("steer-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const box = $("steer-message");
    if (await post("/api/steer", { message: box.value }, $("steer-result"))) {
      $("steer-result").textContent = "sent: the planners read it on their next turn";
      box.value = "";
    }
  });
  for (const action of ["pause", "unpause", "stop"]) {
    $(`btn-${action}`).addEventListener("click", () => {
      if (action === "stop" && !confirm("Stop the run? Agents wind down and no new task is claimed.")) return;
      post("/api/control", { action }, $("steer-result"));
    });
  }
  const taskId = () => Number($("task-id").value);
  $("task-cancel").addEventListener("click", () => post(`/api/tasks/${taskId()}/cancel`, {}, $("task-result")));
  $("task-reprioritise").addEventListener("click", () =>
    post(`/api/tasks/${taskId()}/priority`, { priority: Number($("task-priority").value) }, $("task-result")));
  $("transcript-close").addEventListener("click", closeAgent);
}

async function start() {
  wire();
  await refresh();
  const recent = await api("/api/recent").catch(() => []);
  recent.forEach(addEvent);
  follow(view.state ? view.state.last_event_id : 0);
  setInterval(renderAgents, 1000);
  const wanted = new URLSearchParams(location.hash.slice(1)).get("agent");
  if (wanted) selectAgent(wanted);
}

document.addEventListener("DOMContentLoaded", start);
