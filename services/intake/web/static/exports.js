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

// The inbox's view as the worker sees it: the current tab (set), order and filters, every page of it
// (GET /v1/inbox/export.*, the same parameters as GET /v1/inbox without the page size and token).
function setUpInboxExport(viewParams, setName) {
  function view(extension) {
    const day = new Date().toISOString().slice(0, 10);
    return [`/v1/inbox/export.${extension}`, viewParams(), `工单-${setName()}-${day}.${extension}`];
  }
  exportButton(document.getElementById("export-csv"), () => view("csv"));
  exportButton(document.getElementById("export-xlsx"), () => view("xlsx"));
}
