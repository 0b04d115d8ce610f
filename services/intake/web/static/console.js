// The worker console: sign in with a signed token (`linli token issue`) or WeCom, ticket detail and actions,
// manual queue (dispatchers), topics; the inbox, assignment and bulk actions are in inbox.js, the dashboard and
// the exports in their own files.
"use strict";

const TOKEN_KEY = "linli.token";
const OPEN = new Set(["routed", "needs_manual", "accepted", "in_progress", "transferred", "reopened", "waiting_resident"]);

let worker = null;

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function call(method, path, body) {
  return api(method, path, body, token());
}

function flash(message, isError) {
  const node = document.getElementById("flash");
  node.textContent = message;
  node.classList.toggle("error", Boolean(isError));
  show(node, true);
}

async function signIn() {
  if (!token()) return showSignIn();
  try {
    worker = await call("GET", "/v1/workers/me");
  } catch (problem) {
    sessionStorage.removeItem(TOKEN_KEY);
    if (problem.status === 401) return showSignIn("令牌无效或已过期,请向管理员重新申请。");
    if (problem.status === 403) return showSignIn("这不是工作人员令牌。");
    return showSignIn(describeError(problem));
  }
  const role = { dispatcher: " · 调度员", admin: " · 管理员" }[worker.role] || "";
  document.getElementById("who").textContent =
    `${worker.display_name ? worker.display_name + " " : ""}${worker.worker_id}(${worker.party_name}${role}${scopeLabel(worker)})`;
  show(document.getElementById("signin"), false);
  show(document.getElementById("console-nav"), true);
  show(document.getElementById("workspace"), true);
  startPage();
}

function scopeLabel(signedIn) {
  if (signedIn.community) return " · " + signedIn.community;
  if (signedIn.street) return ` · 街道 ${signedIn.street}(${(signedIn.communities || []).length} 个社区)`;
  return "";
}

function showSignIn(problem) {
  show(document.getElementById("signin"), true);
  show(document.getElementById("workspace"), false);
  const error = document.getElementById("signin-error");
  error.textContent = problem || "";
  show(error, Boolean(problem));
}

document.getElementById("signin-button").addEventListener("click", () => {
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
  signIn();
});
document.getElementById("token").addEventListener("keydown", (event) => {
  if (event.key === "Enter") document.getElementById("signin-button").click();
});
document.getElementById("signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.assign("/console/");
});

function fillPartySelect(select, exclude) {
  select.replaceChildren(
    ...Object.keys(PAGE.parties)
      .filter((party) => party !== exclude)
      .map((party) => el("option", { value: party }, partyName(party))),
  );
}

function slaText(ticket) {
  // The clock stands still while the resident has a question to answer; it moves on by the wait afterwards.
  if (ticket.status === "waiting_resident") return "暂停:等居民答复";
  if (!ticket.sla_due_at) return "";
  const hours = hoursUntil(ticket.sla_due_at);
  if (hours < 0) return `已超时 ${Math.ceil(-hours)} 小时`;
  return hours < 24 ? `${Math.floor(hours)} 小时后到期` : formatTime(ticket.sla_due_at);
}

// 一单多事: problems routing saw beside the ticket's own that nobody has split off yet, so the worker opens it.
function otherIssuesHint(ticket) {
  const waiting = (ticket.routing?.other_issues?.length || 0) - (ticket.split_ticket_ids?.length || 0);
  return waiting > 0 ? el("span", { class: "badge other-issues" }, `另有${waiting}个问题`) : null;
}

// ── inbox ───────────────────────────────────────────────────────────────────────────────────────────────────────
// The resident wrote and no worker has opened the conversation since.
function unreadMark(ticket) {
  const unread = ticket.unread_resident_messages;
  return unread ? el("span", { class: "badge unread", title: "居民的新消息,打开工单即为已读" }, `居民新消息 ${unread}`) : null;
}

// setUpInbox and setUpAssign: inbox.js (the inbox is read from the server, GET /v1/inbox).

// ── manual queue ────────────────────────────────────────────────────────────────────────────────────────────────
function setUpManual(body) {
  // The manual queue belongs to no party yet: only the community's dispatchers (and admins) see and route it.
  const mayDispatch = worker.role === "dispatcher" || worker.role === "admin";
  if (!mayDispatch) {
    show(document.getElementById("manual-empty"), true);
    flash("人工分派队列只对社区调度员开放。");
    return;
  }
  async function load() {
    const params = new URLSearchParams({ status: "needs_manual", page_size: "100" });
    if (worker.community) params.set("community", worker.community);
    const page = await call("GET", `/v1/tickets?${params}`);
    body.replaceChildren(
      ...page.tickets.map((t) => {
        const select = el("select", { class: "party-select", "aria-label": "分派给" });
        fillPartySelect(select);
        const best = t.routing && t.routing.alternatives.length ? t.routing.alternatives[0] : null;
        if (best) select.value = best.party;
        const button = el("button", { type: "button", class: "primary dispatch" }, "分派");
        button.addEventListener("click", async () => {
          try {
            await call("POST", `/v1/tickets/${encodeURIComponent(t.id)}/dispatch`, { to_party: select.value });
            flash(`已分派给${partyName(select.value)}。`);
            load();
          } catch (problem) {
            flash(describeError(problem), true);
          }
        });
        return el(
          "tr",
          { "data-ticket": t.id },
          el(
            "td",
            {},
            el("a", { href: `/console/tickets/${encodeURIComponent(t.id)}` }, t.text.slice(0, 48)),
            unreadMark(t),
            otherIssuesHint(t),
          ),
          el("td", {}, t.community),
          el("td", {}, best ? `${partyName(best.party)} ${(best.probability * 100).toFixed(0)}%` : "无"),
          el("td", {}, select),
          el("td", {}, button),
        );
      }),
    );
    show(document.getElementById("manual-empty"), page.tickets.length === 0);
  }
  load().catch((problem) => flash(describeError(problem), true));
}

function ticketLink(id) {
  return el("a", { href: `/console/tickets/${encodeURIComponent(id)}` }, id);
}

/** A coordinate as the resident's phone gave it, at most 6 decimals (about 0.1 m): 31.2304, not 31.230400. */
function degrees(value) {
  return String(Number(value.toFixed(6)));
}

// ── one ticket ──────────────────────────────────────────────────────────────────────────────────────────────────
function setUpDetail() {
  const ticketId = encodeURIComponent(PAGE.ticket_id);
  const resolution = document.getElementById("resolution");
  const issues = document.getElementById("d-other-issues");
  let suggestionShown = false;
  let issuesShown = false;

  // 一单多事: one further problem of the message, its passage editable, and the button that makes it a ticket.
  function otherIssue(issue) {
    const text = el("textarea", { rows: "2", class: "split-text", "aria-label": `拆分为新工单的内容(${issue.name})` });
    text.value = issue.excerpt;
    const button = el("button", { type: "button", class: "split" }, "拆分为新工单");
    const done = el("p", { class: "split-done" });
    show(done, false);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const created = await call("POST", `/v1/tickets/${ticketId}/split`, { text: text.value });
        button.dataset.done = "true";
        done.replaceChildren("已拆分为新工单 ", ticketLink(created.id), ",系统分派后由负责单位办理。");
        show(done, true);
        flash("已拆分为新工单,系统正在为它分派。");
        load();
      } catch (problem) {
        button.disabled = false;
        const again = problem instanceof ApiError && /already split off/.test(problem.message);
        flash(again ? "这段内容已经拆分过了。" : describeError(problem), true);
      }
    });
    return el(
      "li",
      { "data-entry": issue.entry_id },
      el("p", {}, el("strong", {}, issue.name), `(${partyName(issue.party) || "负责方未定"})`),
      text,
      button,
      done,
    );
  }

  function renderOtherIssues(t) {
    const found = t.routing ? t.routing.other_issues : [];
    // Built once, like the suggestion: a refresh after an action must not throw away the worker's edits.
    if (!issuesShown && t.routing) {
      issues.replaceChildren(...found.map(otherIssue));
      issuesShown = true;
    }
    for (const button of issues.querySelectorAll("button.split")) {
      button.disabled = !OPEN.has(t.status) || button.dataset.done === "true";
    }
    const splits = document.getElementById("d-splits");
    splits.replaceChildren(
      ...(t.split_ticket_ids.length ? ["已拆分出的工单:"] : []),
      ...t.split_ticket_ids.flatMap((id, position) => [position ? "、" : "", ticketLink(id)]),
    );
    show(splits, t.split_ticket_ids.length > 0);
    show(document.getElementById("other-issues"), found.length > 0 || t.split_ticket_ids.length > 0);
  }

  function render(t) {
    document.getElementById("d-text").textContent = t.text;
    // contact.js: the callback number's row.
    document.dispatchEvent(new CustomEvent("linli:ticket-rendered", { detail: t }));
    const facts = [
      ["工单号", t.id],
      ["小区", `${t.community} ${t.building}`],
      ["状态", STATUS_NAMES[t.status] || t.status],
      ["负责方", partyName(t.party) || "未定"],
      ["经办人", t.assignee_worker_id || "未指派"],
      ["层级", LEVEL_NAMES[t.escalation_level]],
      ["优先级", `${t.priority}(${URGENCY_NAMES[t.urgency]})`],
      ["办理时限", slaText(t) || "—"],
    ];
    document.getElementById("d-meta").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    // As text only: the console has no internet, so no map tiles.
    const place = document.getElementById("d-location");
    place.textContent = t.location ? `位置:${degrees(t.location.latitude)}, ${degrees(t.location.longitude)}` : "";
    show(place, Boolean(t.location));
    const urgency = document.getElementById("d-urgency");
    urgency.textContent = t.urgency_notice;
    show(urgency, Boolean(t.urgency_notice));
    const neighbours = document.getElementById("d-neighbours");
    neighbours.textContent = t.duplicate_notice;
    show(neighbours, Boolean(t.duplicate_notice));
    const splitFrom = document.getElementById("d-split-from");
    splitFrom.replaceChildren(...(t.split_from_ticket_id ? ["拆分自工单 ", ticketLink(t.split_from_ticket_id)] : []));
    show(splitFrom, Boolean(t.split_from_ticket_id));
    const gallery = document.getElementById("d-photos");
    gallery.replaceChildren(...photoGallery(t.attachments || []));
    show(gallery, gallery.children.length > 0);
    const routing = t.routing;
    document.getElementById("d-party").textContent = routing
      ? routing.abstained
        ? "系统没有把握,需人工分派。"
        : `系统分派给${partyName(routing.party)},把握 ${(routing.confidence * 100).toFixed(0)}%。`
      : "正在分派…";
    document.getElementById("d-rationale").textContent = routing ? routing.rationale : "";
    document.getElementById("d-entry").textContent =
      routing && routing.catalog_entry ? `权责清单:${routing.catalog_entry.name}。${routing.catalog_entry.basis}` : "";
    document.getElementById("d-similar").replaceChildren(
      ...(routing ? routing.similar_cases.slice(0, 5) : []).map((c) =>
        el(
          "li",
          {},
          el("p", {}, `${c.complaint}(相似度 ${c.score.toFixed(2)},${partyName(c.party)})`),
          el("p", { class: "muted" }, `处理:${c.resolution}`),
        ),
      ),
    );
    renderOtherIssues(t);
    if (!suggestionShown && routing && routing.suggested_resolution) {
      resolution.value = routing.suggested_resolution;
      suggestionShown = true;
    }
    document.getElementById("d-events").replaceChildren(
      ...t.events.map((e) =>
        el(
          "li",
          {},
          el("span", { class: "when" }, formatTime(e.at)),
          el("strong", {}, `${EVENT_NAMES[e.kind] || e.kind} · ${e.actor}`),
          e.to_party ? ` → ${partyName(e.to_party)}` : "",
          e.note ? el("p", { class: "detail" }, e.note) : null,
        ),
      ),
    );
    const mayDispatch = worker.role === "dispatcher" || worker.role === "admin";
    show(document.getElementById("dispatch-row"), t.status === "needs_manual" && mayDispatch);
    document.getElementById("accept").disabled = !["routed", "transferred", "reopened", "needs_manual"].includes(t.status);
    document.getElementById("start").disabled = t.status !== "accepted";
    document.getElementById("resolve").disabled = !["accepted", "in_progress"].includes(t.status);
  }

  async function act(path, body, done) {
    try {
      const result = await call("POST", `/v1/tickets/${ticketId}/${path}`, body);
      render(result.ticket && result.primary ? result.ticket : result);
      flash(done);
    } catch (problem) {
      flash(describeError(problem), true);
    }
  }

  fillPartySelect(document.getElementById("transfer-to"), worker.party);
  fillPartySelect(document.getElementById("dispatch-to"));
  document.getElementById("accept").addEventListener("click", () => act("accept", undefined, "已受理。"));
  document.getElementById("start").addEventListener("click", () => act("start", undefined, "已开始处理。"));
  const afterPhotos = photoPicker(
    document.getElementById("after-photos"),
    document.getElementById("after-photo-list"),
    (file) => uploadPhoto(file, token()),
  );
  document.getElementById("resolve").addEventListener("click", async () => {
    if (afterPhotos.busy()) return flash("照片还在上传,请稍等再办结。", true);
    await act("resolve", { resolution: resolution.value, attachment_ids: afterPhotos.ids() }, "已办结,处理结果已告知居民。");
    if (document.getElementById("resolve").disabled) afterPhotos.clear();
  });
  document.getElementById("transfer").addEventListener("click", () => {
    const to = document.getElementById("transfer-to").value;
    act("transfer", { to_party: to, reason: document.getElementById("transfer-reason").value }, `已转派给${partyName(to)}。`);
  });
  document.getElementById("merge").addEventListener("click", () =>
    act("merge", { primary_ticket_id: document.getElementById("merge-primary").value.trim() }, "已合并。"),
  );
  document.getElementById("dispatch").addEventListener("click", () => {
    const to = document.getElementById("dispatch-to").value;
    act("dispatch", { to_party: to, note: document.getElementById("dispatch-note").value }, `已分派给${partyName(to)}。`);
  });
  function load() {
    call("GET", `/v1/tickets/${ticketId}`).then(render, (problem) => flash(describeError(problem), true));
  }
  // conversation.js: a question or a reply changed the ticket.
  document.addEventListener("linli:ticket", (event) => render(event.detail));
  load();
}

// ── topics ──────────────────────────────────────────────────────────────────────────────────────────────────────
// The ISO week in China Standard Time (UTC+8), as the server counts weeks (topics/week.py), wherever the browser is:
// on a Sunday evening in UTC it is already Monday in the compounds.
function isoWeek(date) {
  const china = new Date(date.getTime() + 8 * 3600 * 1000);
  const day = new Date(Date.UTC(china.getUTCFullYear(), china.getUTCMonth(), china.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = new Date(Date.UTC(day.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((day - yearStart) / 86400000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

function setUpTopics() {
  const community = document.getElementById("t-community");
  const week = document.getElementById("t-week");
  if (worker.community) {
    community.value = worker.community;
    community.disabled = true;
  }
  week.value = isoWeek(new Date());

  const loads = newestOnly();
  async function load() {
    const isNewest = loads();
    try {
      const params = new URLSearchParams({ community: community.value, week: week.value });
      const report = await call("GET", `/v1/topics?${params}`);
      if (!isNewest()) return;
      const change = report.total - report.previous_total;
      document.getElementById("t-summary").textContent =
        `${report.community} ${report.week}:共 ${report.total} 件反映,` +
        `比上周${change >= 0 ? "多" : "少"} ${Math.abs(change)} 件。`;
      drawTopicBars(document.getElementById("topic-chart"), report.topics.slice(0, 10));
      drawTrend(document.getElementById("trend-chart"), report.trend);
      document.getElementById("rising").replaceChildren(
        ...report.rising.map((t) =>
          el("li", {}, el("strong", {}, t.name), ` 本周 ${t.count} 件,上周 ${t.previous_count} 件,`, el("span", { class: "up" }, `+${t.rise}`)),
        ),
      );
      if (!report.rising.length) document.getElementById("rising").append(el("li", { class: "muted" }, "本周没有上升的话题"));
      // Many residents, separate problems: a matter for them to settle together, not one repair.
      const meeting = report.topics.filter((t) => t.meeting_suggested);
      document.getElementById("meeting").replaceChildren(
        ...meeting.map((t) =>
          el(
            "li",
            { "data-topic": t.key },
            el("strong", {}, t.name),
            ` 本周 ${t.residents} 位居民反映 ${t.count} 件,建议提交居民议事会协商 `,
            // Whoever may convene the meeting is the API's to decide: others get its 403 in words.
            el("button", { type: "button", class: "propose", onclick: () => propose(t, report.week) }, "提交议事"),
          ),
        ),
      );
      if (!meeting.length) document.getElementById("meeting").append(el("li", { class: "muted" }, "本周没有需要议事的话题"));
    } catch (problem) {
      flash(describeError(problem), true);
    }
    loadMeetingItems(community.value);
  }

  async function propose(topic, reportWeek) {
    try {
      await call("POST", "/v1/meetings", { community: community.value, topic_key: topic.key, title: topic.name, week: reportWeek });
      flash(`“${topic.name}”已提交居民议事。`);
      loadMeetingItems(community.value);
    } catch (problem) {
      flash(problem instanceof ApiError && problem.status === 409 ? "这个话题已在议事中。" : meetingError(problem), true);
    }
  }
  community.addEventListener("change", load);
  week.addEventListener("change", load);
  load();
}

// ── residents' meeting (议事) ───────────────────────────────────────────────────────────────────────────────────────
const MEETING_STATUS_NAMES = { proposed: "待议", scheduled: "已定议事时间", decided: "已决定", dropped: "不再议事" };

function meetingError(problem) {
  if (problem instanceof ApiError && problem.status === 403) return "只有街道、业委会或本社区调度员可以办理议事事项。";
  return describeError(problem);
}

async function loadMeetingItems(community) {
  const list = document.getElementById("meeting-items");
  try {
    const params = new URLSearchParams({ community });
    for (const status of ["proposed", "scheduled", "decided"]) params.append("status", status);
    const { items } = await call("GET", `/v1/meetings?${params}`);
    list.replaceChildren(...items.map((item) => meetingItemRow(item, () => loadMeetingItems(community))));
    if (!items.length) list.append(el("li", { class: "muted" }, "还没有议事事项"));
  } catch (problem) {
    list.replaceChildren(el("li", { class: "muted" }, meetingError(problem)));
  }
}

// One item: its evidence and state; while open, the meeting's time, its decision, or dropping it.
function meetingItemRow(item, reload) {
  async function act(path, body, done) {
    try {
      await call("POST", `/v1/meetings/${item.id}/${path}`, body);
      flash(done);
      reload();
    } catch (problem) {
      flash(meetingError(problem), true);
    }
  }
  const row = el(
    "li",
    { "data-item": item.id, "data-status": item.status },
    el("strong", {}, item.title),
    ` ${MEETING_STATUS_NAMES[item.status] || item.status} · ${item.week} ${item.residents} 位居民反映 ${item.reports} 件`,
    item.meeting_at ? el("span", { class: "when" }, ` · 议事时间 ${formatTime(item.meeting_at)}`) : null,
    item.outcome ? el("p", { class: "outcome" }, `决定:${item.outcome}`) : null,
  );
  if (item.status === "decided" || item.status === "dropped") return row;
  const when = el("input", { type: "datetime-local", class: "meeting-at", "aria-label": "议事时间" });
  const outcome = el("input", { type: "text", class: "outcome-text", placeholder: "议事决定(如居民公约条款)" });
  const reason = el("input", { type: "text", class: "drop-reason", placeholder: "不再议事的原因" });
  const schedule = el("button", { type: "button", class: "schedule" }, "设定议事时间");
  // The browser's local time, sent with its zone (toISOString is UTC): the API refuses a time without one.
  schedule.addEventListener("click", () => {
    if (!when.value) return flash("请先选择议事时间。", true);
    act("schedule", { meeting_at: new Date(when.value).toISOString() }, "议事时间已设定。");
  });
  const decide = el("button", { type: "button", class: "decide", disabled: item.status !== "scheduled" }, "记录决定");
  decide.addEventListener("click", () => act("decide", { outcome: outcome.value }, "议事决定已记录并公开。"));
  const drop = el("button", { type: "button", class: "drop" }, "不再议事");
  drop.addEventListener("click", () => act("drop", { reason: reason.value }, "已撤下议事事项。"));
  row.append(el("div", { class: "meeting-actions" }, when, schedule, outcome, decide, reason, drop));
  return row;
}

function startPage() {
  if (document.getElementById("inbox")) setUpInbox(document.getElementById("inbox")); // inbox.js, its exports too
  if (document.getElementById("manual")) setUpManual(document.getElementById("manual"));
  if (document.getElementById("detail")) setUpDetail();
  if (document.getElementById("assign-row")) setUpAssign();
  if (document.getElementById("topic-chart")) setUpTopics();
  if (document.getElementById("dashboard")) setUpDashboard(); // dashboard.js
  if (document.getElementById("search-results")) setUpSearch(document.getElementById("search-results"));
}

// After every script of the page has run: signIn's answer can arrive while a later <script> (inbox.js, contact.js)
// is still downloading, and startPage would then call a function not yet defined.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", signIn);
else signIn();
