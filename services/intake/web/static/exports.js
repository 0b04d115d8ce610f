// CSV / Excel exports of the console: the API needs the worker's token, so a plain link cannot download them; the
// file is fetched with it and handed to the browser as a download.
"use strict";

async function downloadExport(path, params, filename) {
  const response = await fetch(`${path}?${params}`, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    throw new ApiError(response.status, body);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function exportButton(button, pathAndName) {
  button.addEventListener("click", async () => {
    const [path, params, filename] = pathAndName();
    button.disabled = true;
    try {
      await downloadExport(path, params, filename);
    } catch (problem) {
      flash(describeError(problem), true);
    } finally {
      button.disabled = false;
    }
  });
}

// The inbox's view: the worker's party (and community), its status and level filters ("全部待办" is no API
// status: every status is exported then).
function setUpInboxExport() {
  function view(extension) {
    const params = new URLSearchParams({ party: worker.party });
    if (worker.community) params.set("community", worker.community);
    const status = document.getElementById("f-status").value;
    const level = document.getElementById("f-level").value;
    if (status && status !== "open") params.set("status", status);
    if (level) params.set("escalation_level", level);
    return [`/v1/tickets/export.${extension}`, params, `工单-${new Date().toISOString().slice(0, 10)}.${extension}`];
  }
  exportButton(document.getElementById("export-csv"), () => view("csv"));
  exportButton(document.getElementById("export-xlsx"), () => view("xlsx"));
}
