// The resident's H5 page: submit (with an instant answer first), my tickets, and one ticket's progress.
"use strict";

// Residents' login and token (residentApi, SESSION_KEY, RESIDENT_KEY) come from h5_login.js, loaded first.
const PLACE_KEY = "linli.place";
const POLL_MS = 2000;

// One photo uploaded as the resident; a token refused is replaced once, as for residentApi.
async function residentUpload(file) {
  try {
    return await uploadPhoto(file, await residentToken());
  } catch (problem) {
    if (!(problem instanceof ApiError) || problem.status !== 401) throw problem;
    localStorage.removeItem(SESSION_KEY);
    return uploadPhoto(file, await logIn());
  }
}

// ── submit ──────────────────────────────────────────────────────────────────────────────────────────────────────
function setUpSubmit(form) {
  const community = document.getElementById("community");
  const building = document.getElementById("building");
  const text = document.getElementById("text");
  const photos = photoPicker(document.getElementById("photos"), document.getElementById("photo-list"), residentUpload);
  const error = document.getElementById("form-error");
  const button = document.getElementById("submit");
  const answer = document.getElementById("answer");
  const attachPoint = document.getElementById("attach-point");
  const pointStatus = document.getElementById("point-status");
  let point = null; // {latitude, longitude} once the phone has given it; only sent when the resident asked
  // One key per draft: a double tap or a retry after a timeout returns the same ticket.
  let idempotencyKey = randomId("h5-draft-");

  const place = JSON.parse(localStorage.getItem(PLACE_KEY) || "{}");
  if (place.community) community.value = place.community;
  if (place.building) building.value = place.building;

  function sayPoint(words) {
    pointStatus.textContent = words;
    show(pointStatus, Boolean(words));
  }

  attachPoint.addEventListener("change", () => {
    point = null;
    if (!attachPoint.checked) return sayPoint("");
    if (!navigator.geolocation) {
      attachPoint.checked = false;
      return sayPoint("这台手机不能提供位置,不附也可以提交。");
    }
    sayPoint("正在获取位置…");
    navigator.geolocation.getCurrentPosition(
      (position) => {
        point = { latitude: position.coords.latitude, longitude: position.coords.longitude };
        sayPoint("已附上位置。");
      },
      () => {
        attachPoint.checked = false;
        sayPoint("没有拿到位置(可能没有允许),不附也可以提交。");
      },
      { timeout: 10000, maximumAge: 60000 },
    );
  });

  function fail(problem) {
    error.textContent = problem;
    show(error, true);
    button.disabled = false;
  }

  async function submitTicket() {
    if (photos.busy()) return fail("照片还在上传,请稍等再提交。");
    button.disabled = true;
    show(error, false);
    localStorage.setItem(PLACE_KEY, JSON.stringify({ community: community.value, building: building.value }));
    const body = {
      text: text.value,
      community: community.value,
      building: building.value.trim(),
      attachment_ids: photos.ids(),
      idempotency_key: idempotencyKey,
      ...(point ? { location: point } : {}),
    };
    const phone = document.getElementById("contact-phone").value.trim();
    if (phone) body.contact_phone = phone;
    try {
      const ticket = await residentApi("POST", "/v1/tickets", body);
      location.assign(`/h5/tickets/${encodeURIComponent(ticket.id)}`);
    } catch (problem) {
      fail(describeError(problem));
    }
  }

  async function askFirst() {
    if (text.value.trim().length < 2) return fail("问题描述:至少写两个字");
    button.disabled = true;
    show(error, false);
    try {
      const found = await residentApi("POST", "/v1/answers", { text: text.value, community: community.value });
      if (found.answered) {
        const reply = found.answer;
        document.getElementById("answer-party").textContent = reply.party_name;
        document.getElementById("answer-text").textContent = reply.text;
        // Residents get a count of similar resolved cases, never another resident's complaint.
        document.getElementById("answer-count").textContent = reply.similar_resolved_count
          ? `已有 ${reply.similar_resolved_count} 件相似问题办结`
          : "";
        const entry = reply.catalog_entry;
        document.getElementById("answer-basis").textContent = entry
          ? `依据:${entry.name}。${entry.basis}(一般 ${entry.sla_hours} 小时内办理)`
          : "";
        show(form, false);
        show(answer, true);
        button.disabled = false;
        return;
      }
    } catch (problem) {
      if (problem instanceof ApiError && problem.status === 422) return fail(describeError(problem));
      // No answer is no reason to keep a resident from submitting.
    }
    await submitTicket();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    askFirst();
  });
  document.getElementById("still-submit").addEventListener("click", () => {
    show(answer, false);
    show(form, true);
    submitTicket();
  });
  document.getElementById("answer-done").addEventListener("click", () => {
    show(answer, false);
    show(document.getElementById("answer-thanks"), true);
    text.value = "";
    idempotencyKey = randomId("h5-draft-");
  });
}

// ── my tickets ──────────────────────────────────────────────────────────────────────────────────────────────────
async function setUpMine(list) {
  const page = await residentApi("GET", "/v1/tickets?page_size=50");
  show(document.getElementById("mine-empty"), page.tickets.length === 0);
  for (const ticket of page.tickets) {
    list.append(
      el(
        "li",
        {},
        el(
          "a",
          { href: `/h5/tickets/${encodeURIComponent(ticket.id)}`, class: "ticket-link" },
          el("span", { class: `badge status-${ticket.status}` }, STATUS_NAMES[ticket.status] || ticket.status),
          el("span", { class: "excerpt" }, ticket.text.slice(0, 40)),
          el("span", { class: "muted" }, formatTime(ticket.created_at)),
        ),
      ),
    );
  }
}

// ── decisions of the residents' meeting (议事结果, 全透明) ─────────────────────────────────────────────────────────────
function setUpDecisions(list) {
  const community = document.getElementById("decisions-community");
  const empty = document.getElementById("decisions-empty");
  // The community the resident last reported from, as the submit form remembers it.
  const place = JSON.parse(localStorage.getItem(PLACE_KEY) || "{}");
  if (place.community) community.value = place.community;

  const loads = newestOnly();
  async function load() {
    const isNewest = loads();
    try {
      const params = new URLSearchParams({ community: community.value });
      const { decisions } = await residentApi("GET", `/v1/meetings/public?${params}`);
      // Another community was picked while this answer travelled: its own answer fills the list, not this one.
      if (!isNewest()) return;
      list.replaceChildren(
        ...decisions.map((d) =>
          el(
            "li",
            { class: "card" },
            el("strong", {}, d.title),
            el("p", { class: "outcome" }, d.outcome),
            el(
              "p",
              { class: "muted" },
              `${d.residents} 位居民反映 ${d.reports} 件` + (d.meeting_at ? ` · ${formatTime(d.meeting_at)} 议事` : ""),
            ),
          ),
        ),
      );
      empty.textContent = "这个小区还没有议事结果。";
      show(empty, decisions.length === 0);
    } catch (problem) {
      if (!isNewest()) return;
      list.replaceChildren();
      empty.textContent = describeError(problem);
      show(empty, true);
    }
  }
  community.addEventListener("change", load);
  load();
}

// ── one ticket ──────────────────────────────────────────────────────────────────────────────────────────────────
function eventWords(event, ticket) {
  const to = partyName(event.to_party);
  switch (event.kind) {
    case "received":
      return ["已收到您的反映", ""];
    case "routed":
      return [`已交给${to}办理`, event.note ? `为什么是${to}:${event.note}` : ""];
    case "needs_manual":
      return ["社区工作人员正在确定由谁办理", ""];
    case "dispatched":
      return [`社区已交给${to}办理`, event.note];
    case "accepted":
      return [`${partyName(event.party || event.to_party)}已受理`, ""];
    case "started":
      return [`${partyName(event.party)}开始处理`, ""];
    case "transferred":
      return [`已转交${to}办理`, event.note];
    case "resolved":
      return ["已办结", event.note];
    case "rated":
      return ["您的评价", event.note];
    case "reopened":
      return ["重新办理", event.note];
    case "auto_closed":
      return ["回访期满,已办结", "如问题仍在,可以申请重新办理"];
    case "escalated":
    case "at_top_level":
      return ["已升级督办", event.note];
    case "merged":
    case "duplicate_linked":
      return ["与邻居反映的同一问题一起办理", ""];
    case "unmerged":
    case "duplicate_unlinked":
      return ["改为单独办理", ""];
    case "split":
      return ["您反映的另一个问题已单独立单办理", "可在“我的反映”里查看"];
    case "split_off":
      return ["从您的一条反映中单独立单办理", ""];
    case "asked_resident":
      return [`${partyName(event.party)}向您提问`, "请在下方对话里回复,答复前办理时限暂停"];
    case "resident_answered":
      return ["您已答复,继续办理", event.note];
    default:
      return [event.kind, event.note];
  }
}

function renderTicket(ticket) {
  const status = document.getElementById("status");
  status.textContent = STATUS_NAMES[ticket.status] || ticket.status;
  status.className = `badge status-${ticket.status}`;
  document.getElementById("ticket-text").textContent = ticket.text;
  const routed = document.getElementById("routed-party");
  routed.textContent = ticket.party ? `负责方:${partyName(ticket.party)}` : "";
  show(routed, Boolean(ticket.party));
  const neighbours = document.getElementById("neighbours");
  neighbours.textContent = ticket.duplicate_notice;
  show(neighbours, Boolean(ticket.duplicate_notice));
  const urgency = document.getElementById("urgency");
  urgency.textContent = ticket.urgency_notice;
  show(urgency, Boolean(ticket.urgency_notice));
  const gallery = document.getElementById("ticket-photos");
  gallery.replaceChildren(...photoGallery(ticket.attachments || []));
  show(gallery, gallery.children.length > 0);
  const timeline = document.getElementById("timeline");
  timeline.replaceChildren(
    ...ticket.events.map((event) => {
      const [title, detail] = eventWords(event, ticket);
      return el(
        "li",
        { class: `event event-${event.kind}` },
        el("span", { class: "when" }, formatTime(event.at)),
        el("strong", {}, title),
        detail ? el("p", { class: "detail" }, detail) : null,
      );
    }),
  );
  show(document.getElementById("waiting-hint"), ticket.status === "waiting_resident");
  const done = ticket.status === "resolved" || ticket.status === "closed";
  // A ticket closed because nobody rated it in time can still be rated (a rating of 0 means none yet).
  show(document.getElementById("rate"), ticket.status === "resolved" || (ticket.status === "closed" && !ticket.rating));
  show(document.getElementById("reopen"), done);
}

function setUpTicket(section) {
  const ticketId = PAGE.ticket_id;
  const error = document.getElementById("ticket-error");
  let score = 0;
  let timer = null;

  async function load() {
    try {
      const ticket = await residentApi("GET", `/v1/tickets/${encodeURIComponent(ticketId)}`);
      renderTicket(ticket);
      show(error, false);
      // Triage takes seconds: keep the resident's screen moving until someone owns the ticket.
      clearTimeout(timer);
      if (ticket.status === "received") timer = setTimeout(load, POLL_MS);
    } catch (problem) {
      error.textContent = problem.status === 404 ? "没有找到这条反映。" : describeError(problem);
      show(error, true);
    }
  }

  for (const star of document.querySelectorAll(".star")) {
    star.addEventListener("click", () => {
      score = Number(star.dataset.score);
      for (const other of document.querySelectorAll(".star")) {
        other.classList.toggle("on", Number(other.dataset.score) <= score);
      }
      document.getElementById("rate-submit").disabled = false;
    });
  }
  document.getElementById("rate-submit").addEventListener("click", async () => {
    const comment = document.getElementById("rate-comment").value.trim();
    try {
      renderTicket(
        await residentApi("POST", `/v1/tickets/${encodeURIComponent(ticketId)}/rate`, {
          score,
          comment,
        }),
      );
    } catch (problem) {
      error.textContent = describeError(problem);
      show(error, true);
    }
  });
  document.getElementById("reopen-submit").addEventListener("click", async () => {
    try {
      renderTicket(
        await residentApi("POST", `/v1/tickets/${encodeURIComponent(ticketId)}/reopen`, {
          reason: document.getElementById("reopen-reason").value,
        }),
      );
    } catch (problem) {
      error.textContent = describeError(problem);
      show(error, true);
    }
  });
  // conversation.js: the answer to a question put the ticket back to work.
  document.addEventListener("linli:ticket", (event) => renderTicket(event.detail));
  load();
}

// ── erase my data ───────────────────────────────────────────────────────────────────────────────────────────────
// DELETE /v1/me: the reports stay (anonymized, still handled), but nothing links them to this resident any more.
function setUpErase(link) {
  const status = document.getElementById("erase-status");
  link.addEventListener("click", async (click) => {
    click.preventDefault();
    if (!confirm("删除后,您反映过的问题仍会继续处理,但将不再与您关联,您也无法再查看进度。确定删除吗?")) return;
    try {
      const erased = await residentApi("DELETE", "/v1/me");
      localStorage.removeItem(SESSION_KEY);
      localStorage.removeItem(RESIDENT_KEY);
      status.textContent = `已删除:${erased.tickets} 条反映不再与您关联。`;
      document.getElementById("mine").replaceChildren();
    } catch (problem) {
      status.textContent = problem.status === 404 ? "没有需要删除的个人信息。" : describeError(problem);
    }
  });
}

const submitForm = document.getElementById("submit-form");
const mineList = document.getElementById("mine");
const ticketSection = document.getElementById("ticket");
if (submitForm) setUpSubmit(submitForm);
if (mineList) {
  setUpMine(mineList).catch((problem) => {
    const note = document.getElementById("mine-empty");
    note.textContent = describeError(problem);
    show(note, true);
  });
}
if (ticketSection) setUpTicket(ticketSection);
const decisionList = document.getElementById("decisions");
if (decisionList) setUpDecisions(decisionList);
const eraseLink = document.getElementById("erase-me");
if (eraseLink) setUpErase(eraseLink);
