// The console's ticket search (GET /v1/search/tickets): the header's box opens /console/search?q=…, this lists
// the results, best match first, the matched words marked, each linking to its ticket. Loaded before console.js,
// whose startPage() calls setUpSearch once the worker has signed in.
"use strict";

const MATCHED_NAMES = { ticket_number: "工单号", building: "楼栋", text: "反映内容", resolution: "处理结果" };

// The matched passage: the words around it as text, the query inside <mark>, never as HTML.
function searchSnippet(hit) {
  const s = hit.snippet;
  if (!s) return el("span", { class: "muted" }, MATCHED_NAMES[hit.matched] || hit.matched);
  return el(
    "span",
    {},
    el("span", { class: "muted" }, `${MATCHED_NAMES[s.field] || s.field}:`),
    s.before,
    el("mark", {}, s.match),
    s.after,
  );
}

function searchRow(hit) {
  const t = hit.ticket;
  const link = `/console/tickets/${encodeURIComponent(t.id)}`;
  return el(
    "tr",
    { "data-ticket": t.id },
    el("td", {}, el("a", { href: link, title: t.id }, t.id.slice(0, 8))),
    el("td", {}, el("a", { href: link }, searchSnippet(hit))),
    el("td", {}, `${t.community}${t.building ? " " + t.building : ""}`),
    el("td", {}, el("span", { class: `badge status-${t.status}` }, STATUS_NAMES[t.status] || t.status)),
    el("td", {}, formatTime(t.created_at)),
  );
}

function setUpSearch(body) {
  const q = new URLSearchParams(window.location.search).get("q") || "";
  const status = document.getElementById("s-status");
  const more = document.getElementById("search-more");
  document.getElementById("search-q").value = q;
  let nextToken = "";

  const loads = newestOnly();
  async function load(append) {
    const isNewest = loads();
    const params = new URLSearchParams({ q, page_size: "50" });
    if (status.value) params.set("status", status.value);
    if (append && nextToken) params.set("page_token", nextToken);
    try {
      const page = await call("GET", `/v1/search/tickets?${params}`);
      if (!isNewest()) return;
      const rows = page.results.map(searchRow);
      if (append) body.append(...rows);
      else body.replaceChildren(...rows);
      nextToken = page.next_page_token;
      show(document.getElementById("search-empty"), !append && rows.length === 0);
      show(more, Boolean(nextToken));
    } catch (problem) {
      flash(problem.status === 422 ? "请输入至少两个字,最多一百个字。" : describeError(problem), true);
    }
  }

  if (q.trim().length < 2) return;
  show(document.getElementById("search-hint"), false);
  status.addEventListener("change", () => load(false));
  more.addEventListener("click", () => load(true));
  load(false);
}
