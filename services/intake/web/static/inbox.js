// The inbox read from the server (GET /v1/inbox): five sets as tabs, an order, filters, cursor pages, saved views,
// bulk accept / transfer / close with one reason (each ticket's own result shown), and assignment on the ticket page.
// Uses console.js's call, flash, worker and row helpers.
"use strict";

const BULK_DONE = { accept: "已受理", transfer: "已转派", close: "已办结" };
const BULK_VERBS = { accept: "受理", transfer: "转派", close: "办结" };

// Why a ticket of a bulk action was not done, in the console's words: a status rule (tickets/rules.py: "a <status>
// ticket cannot be <verb>") names the status, a 404 a ticket not this worker's; anything else as the server wrote it.
function bulkRefusal(result, action) {
  const rule = /^a (\w+) ticket cannot be /.exec(result.message);
  if (result.error_code === "failed_precondition" && rule) {
    return `${STATUS_NAMES[rule[1]] || rule[1]}的工单不能${BULK_VERBS[action]}`;
  }
  if (result.error_code === "not_found") return "没有找到这张工单,或不归您办理";
  return result.message;
}

function inboxRow(t, selected) {
  const box = el("input", { type: "checkbox", class: "pick", "aria-label": "选择此工单" });
  box.checked = selected.has(t.id);
  box.addEventListener("change", () => {
    if (box.checked) selected.add(t.id);
    else selected.delete(t.id);
    document.dispatchEvent(new CustomEvent("linli:selection"));
  });
  return el(
    "tr",
    { class: t.urgency !== "normal" ? "urgent-row" : "", "data-ticket": t.id },
    el("td", {}, box),
    el(
      "td",
      {},
      el("a", { href: `/console/tickets/${encodeURIComponent(t.id)}` }, t.text.slice(0, 48)),
      unreadMark(t),
      otherIssuesHint(t),
    ),
    el("td", {}, `${t.community}${t.building ? " " + t.building : ""}`),
    el("td", {}, el("span", { class: `badge status-${t.status}` }, STATUS_NAMES[t.status] || t.status)),
    el("td", {}, LEVEL_NAMES[t.escalation_level] || t.escalation_level),
    el("td", {}, `${t.priority}${t.urgency !== "normal" ? " " + URGENCY_NAMES[t.urgency] : ""}`),
    el("td", { class: hoursUntil(t.sla_due_at) < 24 ? "due-soon" : "" }, slaText(t)),
    el("td", {}, t.assignee_worker_id || "—"),
  );
}

function setUpInbox(body) {
  const state = { set: "all_open", nextToken: "", tickets: [], selected: new Set() };
  const field = (id) => document.getElementById(id);
  const filters = { sort: field("f-sort"), escalation_level: field("f-level"), urgency: field("f-urgency"), building: field("f-building") };

  // The view: what the pages and the exports both take.
  function viewParams() {
    const query = new URLSearchParams({ set: state.set, sort: filters.sort.value });
    for (const name of ["escalation_level", "urgency", "building"]) {
      const value = filters[name].value.trim();
      if (value) query.set(name, value);
    }
    return query;
  }

  function params(pageToken) {
    const query = viewParams();
    query.set("page_size", "50");
    if (pageToken) query.set("page_token", pageToken);
    return query;
  }

  function render() {
    body.replaceChildren(...state.tickets.map((t) => inboxRow(t, state.selected)));
    show(field("inbox-empty"), state.tickets.length === 0);
    show(field("more"), Boolean(state.nextToken));
    updateBulkBar();
  }

  const loads = newestOnly();
  async function load(append) {
    const isNewest = loads();
    try {
      const page = await call("GET", `/v1/inbox?${params(append ? state.nextToken : "")}`);
      if (!isNewest()) return;
      state.tickets = append ? state.tickets.concat(page.tickets) : page.tickets;
      state.nextToken = page.next_page_token;
      if (!append) {
        state.selected.clear();
        field("inbox-total").textContent = page.total === null ? "" : `共 ${page.total} 件`;
      }
      render();
    } catch (problem) {
      flash(describeError(problem), true);
    }
  }

  function pickSet(name) {
    state.set = name;
    for (const tab of field("inbox-sets").querySelectorAll("[data-set]")) {
      tab.classList.toggle("active", tab.dataset.set === name);
      tab.setAttribute("aria-selected", String(tab.dataset.set === name));
    }
    load(false);
  }

  function updateBulkBar() {
    show(field("bulk-bar"), state.selected.size > 0);
    field("bulk-count").textContent = `已选 ${state.selected.size} 件`;
    field("select-all").checked = state.tickets.length > 0 && state.tickets.every((t) => state.selected.has(t.id));
  }

  for (const tab of field("inbox-sets").querySelectorAll("[data-set]")) {
    tab.addEventListener("click", () => pickSet(tab.dataset.set));
  }
  for (const input of Object.values(filters)) input.addEventListener("change", () => load(false));
  field("more").addEventListener("click", () => load(true));
  field("select-all").addEventListener("change", (event) => {
    for (const t of state.tickets) {
      if (event.target.checked) state.selected.add(t.id);
      else state.selected.delete(t.id);
    }
    render();
  });
  document.addEventListener("linli:selection", updateBulkBar);
  setUpBulk(state, () => load(false));
  setUpViews(state, filters, pickSet);
  setUpInboxExport(viewParams, () => field("inbox-sets").querySelector(`[data-set="${state.set}"]`).textContent);
  load(false);
}

function setUpBulk(state, reload) {
  const action = document.getElementById("bulk-action");
  const to = document.getElementById("bulk-to");
  const results = document.getElementById("bulk-results");
  fillPartySelect(to, worker.party);
  action.addEventListener("change", () => show(to, action.value === "transfer"));
  document.getElementById("bulk-go").addEventListener("click", async () => {
    const body = { action: action.value, ticket_ids: [...state.selected], reason: document.getElementById("bulk-reason").value };
    if (action.value === "transfer") body.to_party = to.value;
    try {
      const answer = await call("POST", "/v1/tickets/bulk", body);
      results.replaceChildren(
        ...answer.results.map((r) =>
          el(
            "li",
            { class: r.ok ? "ok" : "error", "data-ticket": r.ticket_id, title: r.ok ? null : r.message },
            `${r.ticket_id.slice(0, 8)}:${r.ok ? BULK_DONE[answer.action] : "未执行 — " + bulkRefusal(r, answer.action)}`,
          ),
        ),
      );
      show(results, true);
      flash(`${answer.succeeded} 件已处理,${answer.failed} 件未执行。`, answer.failed > 0);
      reload();
    } catch (problem) {
      flash(describeError(problem), true);
    }
  });
}

function setUpViews(state, filters, pickSet) {
  const picker = document.getElementById("views");
  const remove = document.getElementById("view-delete");
  let saved = [];

  async function loadViews() {
    try {
      saved = (await call("GET", "/v1/inbox/views")).views;
    } catch (problem) {
      return flash(describeError(problem), true);
    }
    picker.replaceChildren(el("option", { value: "" }, "我保存的视图"), ...saved.map((v) => el("option", { value: v.id }, v.name)));
    show(remove, false);
  }

  picker.addEventListener("change", () => {
    const view = saved.find((v) => v.id === picker.value);
    show(remove, Boolean(view));
    if (!view) return;
    filters.sort.value = view.sort;
    for (const name of ["escalation_level", "urgency", "building"]) filters[name].value = view.filters[name] || "";
    pickSet(view.set);
  });
  document.getElementById("view-save").addEventListener("click", async () => {
    const chosen = {};
    for (const name of ["escalation_level", "urgency", "building"]) {
      if (filters[name].value.trim()) chosen[name] = filters[name].value.trim();
    }
    const body = { name: document.getElementById("view-name").value, set: state.set, sort: filters.sort.value, filters: chosen };
    try {
      await call("POST", "/v1/inbox/views", body);
      flash("视图已保存。");
      loadViews();
    } catch (problem) {
      flash(describeError(problem), true);
    }
  });
  remove.addEventListener("click", async () => {
    try {
      await call("DELETE", `/v1/inbox/views/${encodeURIComponent(picker.value)}`);
      flash("视图已删除。");
      loadViews();
    } catch (problem) {
      flash(describeError(problem), true);
    }
  });
  loadViews();
}

// On the ticket page: give the ticket to a colleague of the same party who serves its community, or take it back.
function setUpAssign() {
  const ticketId = PAGE.ticket_id;
  async function assign(assignee) {
    const body = { assignee_worker_id: assignee, reason: document.getElementById("assign-reason").value.trim() };
    try {
      const ticket = await call("POST", `/v1/tickets/${encodeURIComponent(ticketId)}/assign`, body);
      document.dispatchEvent(new CustomEvent("linli:ticket", { detail: ticket }));
      flash(assignee ? `已指派给 ${assignee}。` : "已取消指派。");
    } catch (problem) {
      flash(describeError(problem), true);
    }
  }
  document.getElementById("assign").addEventListener("click", () => assign(document.getElementById("assignee").value.trim()));
  document.getElementById("unassign").addEventListener("click", () => assign(""));
}
