// The dashboard (考核指标): a scope's rates per week or month from GET /v1/dashboards, as big numbers over the
// whole range (numerator / denominator) and as charts drawn by Chart.js (static/vendor, bundled, no CDN).
"use strict";

const RATES = [
  ["response", "响应率"],
  ["resolution", "解决率"],
  ["satisfaction", "满意率"],
  ["on_time", "按时办结率"],
  ["reopen", "重办率"],
  ["transfer", "转派率"],
];
const RATE_COLOURS = ["#c0392b", "#1e7d4f", "#2563eb", "#b45309", "#7c3aed", "#5f6b7a"];
const charts = {};

function percent(numerator, denominator) {
  return denominator ? `${((100 * numerator) / denominator).toFixed(1)}%` : "—";
}

function isoDay(date) {
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

// Periods are disjoint cohorts of tickets: the range's rate is the sum of numerators over the sum of denominators.
function totals(periods) {
  const sums = { received: 0 };
  for (const [key] of RATES) sums[key] = { numerator: 0, denominator: 0 };
  for (const period of periods) {
    sums.received += period.received;
    for (const [key] of RATES) {
      sums[key].numerator += period[key].numerator;
      sums[key].denominator += period[key].denominator;
    }
  }
  return sums;
}

function renderNumbers(periods) {
  const sums = totals(periods);
  const cards = RATES.map(([key, name]) =>
    el(
      "div",
      { class: "rate" },
      el("div", { class: "name" }, name),
      el("div", { class: "big" }, percent(sums[key].numerator, sums[key].denominator)),
      el("div", { class: "counts" }, `${sums[key].numerator} / ${sums[key].denominator}`),
    ),
  );
  const received = el(
    "div",
    { class: "rate" },
    el("div", { class: "name" }, "收到工单"),
    el("div", { class: "big" }, String(sums.received)),
    el("div", { class: "counts" }, `${periods.length} 个周期`),
  );
  document.getElementById("dashboard").replaceChildren(received, ...cards);
}

// No animation: the figures are read, not watched, and a redraw after each change of the pickers should not move.
function drawChart(id, config) {
  if (charts[id]) charts[id].destroy();
  config.options.animation = false;
  charts[id] = new Chart(document.getElementById(id), config);
}

function renderCharts(periods) {
  const labels = periods.map((p) => p.start);
  drawChart("rates-chart", {
    type: "line",
    data: {
      labels,
      datasets: RATES.map(([key, name], index) => ({
        label: name,
        data: periods.map((p) => (p[key].rate === null ? null : Math.round(p[key].rate * 1000) / 10)),
        borderColor: RATE_COLOURS[index],
        backgroundColor: RATE_COLOURS[index],
        spanGaps: true,
      })),
    },
    options: { maintainAspectRatio: false, scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } } },
  });
  drawChart("volume-chart", {
    data: {
      labels,
      datasets: [
        { type: "bar", label: "收到工单", data: periods.map((p) => p.received), backgroundColor: "#f3b7b0", yAxisID: "y" },
        {
          type: "line",
          label: "受理用时中位数(小时)",
          data: periods.map((p) => (p.median_accept_seconds === null ? null : p.median_accept_seconds / 3600)),
          borderColor: "#2563eb",
          yAxisID: "hours",
        },
        {
          type: "line",
          label: "办结用时中位数(小时)",
          data: periods.map((p) => (p.median_resolve_seconds === null ? null : p.median_resolve_seconds / 3600)),
          borderColor: "#1e7d4f",
          yAxisID: "hours",
        },
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: { y: { beginAtZero: true }, hours: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } } },
    },
  });
}

function setUpDashboard() {
  const scope = document.getElementById("d-scope");
  const street = document.getElementById("d-street");
  const party = document.getElementById("d-party");
  const period = document.getElementById("d-period");
  const from = document.getElementById("d-from");
  const to = document.getElementById("d-to");
  party.append(...Object.keys(PAGE.parties).map((p) => el("option", { value: p }, partyName(p))));
  if (worker.community) {
    scope.value = `community:${worker.community}`;
    scope.disabled = true;
  } else if (worker.street) {
    // A street office worker reads their street, not everything (a 403): start there.
    street.value = worker.street;
  }
  const today = new Date();
  to.value = isoDay(today);
  from.value = isoDay(new Date(today.getTime() - 12 * 7 * 86400000));

  function params() {
    const chosen = street.value.trim() ? `street:${street.value.trim()}` : scope.value;
    return new URLSearchParams({ scope: chosen, party: party.value, period: period.value, from: from.value, to: to.value });
  }

  const loads = newestOnly();
  async function load() {
    if (!from.value || !to.value) return;
    const isNewest = loads();
    try {
      const dashboard = await call("GET", `/v1/dashboards?${params()}`);
      if (!isNewest()) return;
      renderNumbers(dashboard.periods);
      renderCharts(dashboard.periods);
    } catch (problem) {
      flash(describeError(problem), true);
    }
  }

  function exportOf(extension) {
    return () => [`/v1/dashboards/export.${extension}`, params(), `考核指标-${from.value}-${to.value}.${extension}`];
  }
  exportButton(document.getElementById("d-export-csv"), exportOf("csv"));
  exportButton(document.getElementById("d-export-xlsx"), exportOf("xlsx"));
  for (const input of [scope, party, period, from, to]) input.addEventListener("change", load);
  street.addEventListener("change", load);
  load();
}
