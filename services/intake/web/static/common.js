// Shared by the H5 page and the console: the JSON API, Chinese labels, dates. No framework, no build step.
"use strict";

const PAGE = JSON.parse(document.getElementById("page-data").textContent);

const STATUS_NAMES = {
  received: "已收到",
  routed: "已分派",
  needs_manual: "待人工分派",
  accepted: "已受理",
  in_progress: "处理中",
  resolved: "已办结",
  closed: "已关闭",
  reopened: "重新办理",
  transferred: "已转派",
  merged: "已合并",
  waiting_resident: "待居民答复",
};
// What happened to a ticket, as its history records it (services/intake/tickets/context.py EventKind).
const EVENT_NAMES = {
  received: "收到反映",
  routed: "系统分派",
  needs_manual: "转人工分派",
  merged: "合并",
  duplicate_linked: "关联重复反映",
  unmerged: "取消合并",
  duplicate_unlinked: "取消关联",
  dispatched: "调度员分派",
  accepted: "受理",
  started: "开始处理",
  transferred: "转派",
  resolved: "办结",
  rated: "居民评价",
  reopened: "重新办理",
  escalated: "升级",
  at_top_level: "已在最高层级",
  auto_closed: "回访期满自动办结",
  split: "拆分出新工单",
  split_off: "从原工单拆分",
  personal_data_erased: "个人信息已删除",
  asked_resident: "向居民提问",
  resident_answered: "居民已答复",
  assigned: "指派",
};
const LEVEL_NAMES = { building: "楼组", community: "社区", street: "街道" };
const URGENCY_NAMES = { normal: "一般", urgent: "紧急", emergency: "危急" };

function partyName(party) {
  return party ? PAGE.party_short[party] || PAGE.parties[party] || party : "";
}

class ApiError extends Error {
  constructor(status, body, retryAfter = 0) {
    const error = (body && body.error) || {};
    super(error.message || `请求失败(${status})`);
    this.status = status;
    this.fields = error.fields || [];
    this.retryAfter = retryAfter; // seconds, from a 429's Retry-After
  }
}

// One call to the JSON API; `token` adds the worker's bearer token.
async function api(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data, Number(response.headers.get("Retry-After")) || 0);
  return data;
}

// Field errors in words a resident understands; the API names fields in English.
const FIELD_NAMES = {
  text: "问题描述",
  community: "小区",
  building: "楼号",
  attachment_urls: "照片链接",
  attachment_ids: "照片",
  reason: "原因",
  resolution: "处理结果",
  to_party: "接收方",
  assignee_worker_id: "同事工号",
  ticket_ids: "工单",
  name: "视图名称",
  comment: "评价",
  title: "议事事项",
  topic_key: "话题",
  meeting_at: "议事时间",
  outcome: "议事决定",
  internal: "内部备注",
  asks_resident: "提问",
  phone: "手机号",
  code: "验证码",
};
function describeError(error) {
  if (error instanceof ApiError && error.fields.length) {
    return error.fields
      .map((f) => `${FIELD_NAMES[f.field.replace(/\[\d+\]$/, "")] || f.field}:${translateProblem(f.description)}`)
      .join(";");
  }
  if (error instanceof ApiError && error.status === 401) return "登录已失效,请重新登录。";
  if (error instanceof ApiError && error.status === 403) return "没有权限办理这张工单。";
  if (error instanceof ApiError && error.status === 409) return `当前状态不能这样操作(${error.message})。`;
  return error.message || "出错了,请稍后再试。";
}
function translateProblem(description) {
  if (/at least 2 characters/.test(description)) return "至少写两个字";
  if (/at most/.test(description)) return "太长了";
  if (/http\(s\) URL/.test(description)) return "请填写 http 或 https 开头的链接";
  if (/unknown community/.test(description)) return "不在服务范围内";
  if (/is required/.test(description)) return "必填";
  return description;
}

function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getMonth() + 1}月${date.getDate()}日 ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function hoursUntil(iso) {
  return iso ? (new Date(iso).getTime() - Date.now()) / 3600000 : Infinity;
}

// Builds an element; text goes in as text, never as HTML.
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function show(node, visible) {
  node.hidden = !visible;
}

// Answers may come back in another order than they were asked for: a page that reloads on every change of a filter
// lets only the newest load fill it. `const isNewest = loads();` when a load starts, `if (!isNewest()) return;` after
// each await.
function newestOnly() {
  let started = 0;
  return () => {
    const mine = ++started;
    return () => mine === started;
  };
}

function randomId(prefix) {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
