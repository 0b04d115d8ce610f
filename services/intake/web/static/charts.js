// Inline SVG charts for the hot-topics view; no chart library.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Horizontal bars, one pair per topic: this week (solid) over last week (pale).
function drawTopicBars(container, topics) {
  const rowHeight = 34;
  const labelWidth = 150;
  const width = 560;
  const height = Math.max(topics.length, 1) * rowHeight + 24;
  const max = Math.max(1, ...topics.map((t) => Math.max(t.count, t.previous_count)));
  const scale = (width - labelWidth - 50) / max;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "本周与上周各话题反映数", class: "bars" });
  topics.forEach((topic, index) => {
    const y = index * rowHeight + 4;
    const label = topic.name.length > 10 ? topic.name.slice(0, 10) + "…" : topic.name;
    chart.append(svg("text", { x: labelWidth - 8, y: y + 17, "text-anchor": "end", class: "label" }, label));
    chart.append(svg("rect", { x: labelWidth, y, width: Math.max(topic.count * scale, 1), height: 14, class: "bar-now" }));
    chart.append(
      svg("rect", { x: labelWidth, y: y + 15, width: Math.max(topic.previous_count * scale, 1), height: 8, class: "bar-before" }),
    );
    chart.append(svg("text", { x: labelWidth + topic.count * scale + 6, y: y + 12, class: "value" }, topic.count));
  });
  if (!topics.length) chart.append(svg("text", { x: 10, y: 20, class: "label" }, "本周还没有反映"));
  const legendY = height - 6;
  chart.append(svg("rect", { x: labelWidth, y: legendY - 9, width: 12, height: 9, class: "bar-now" }));
  chart.append(svg("text", { x: labelWidth + 16, y: legendY, class: "legend" }, "本周"));
  chart.append(svg("rect", { x: labelWidth + 60, y: legendY - 9, width: 12, height: 9, class: "bar-before" }));
  chart.append(svg("text", { x: labelWidth + 76, y: legendY, class: "legend" }, "上周"));
  container.replaceChildren(chart);
}

// Weekly totals as columns, oldest first.
function drawTrend(container, trend) {
  const width = 360;
  const height = 160;
  const bottom = height - 22;
  const max = Math.max(1, ...trend.map((w) => w.count));
  const step = width / Math.max(trend.length, 1);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "近 8 周反映总数", class: "trend" });
  trend.forEach((week, index) => {
    const barHeight = (week.count / max) * (bottom - 18);
    const x = index * step + step * 0.2;
    chart.append(svg("rect", { x, y: bottom - barHeight, width: step * 0.6, height: Math.max(barHeight, 1), class: "bar-now" }));
    chart.append(svg("text", { x: x + step * 0.3, y: bottom - barHeight - 4, "text-anchor": "middle", class: "value" }, week.count));
    chart.append(svg("text", { x: x + step * 0.3, y: height - 6, "text-anchor": "middle", class: "legend" }, week.week.slice(5)));
  });
  container.replaceChildren(chart);
}
