// The API's one error shape, {error: {code, message, fields}}, and its words for a resident.

export interface FieldProblem {
  field: string;
  description: string;
}

interface ErrorBody {
  error?: { code?: string; message?: string; fields?: FieldProblem[] };
}

/** A failed call: `status` 0 when the server was never reached. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldProblem[];
  readonly retryAfterSeconds: number;

  constructor(status: number, code: string, message: string, fields: FieldProblem[] = [], retryAfterSeconds = 0) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The error an answer with this status and body stands for (a body in another shape keeps only the status). */
export function errorFromResponse(status: number, body: unknown, retryAfter?: string): ApiError {
  const error = (body && typeof body === "object" ? (body as ErrorBody).error : undefined) ?? {};
  const seconds = Number.parseInt(retryAfter ?? "", 10);
  return new ApiError(
    status,
    error.code ?? `http_${status}`,
    error.message ?? `HTTP ${status}`,
    Array.isArray(error.fields) ? error.fields : [],
    Number.isFinite(seconds) ? seconds : 0,
  );
}

/** The request never got an answer (no network, DNS, TLS, a domain not allowed, a timeout). */
export function networkError(reason: string): ApiError {
  return new ApiError(0, "network", reason);
}

// The API names fields in English; residents read them in Chinese.
const FIELD_NAMES: Record<string, string> = {
  text: "问题描述",
  community: "小区",
  building: "楼号",
  attachment_urls: "照片",
  location: "位置",
  "location.latitude": "位置",
  "location.longitude": "位置",
  reason: "原因",
  comment: "评价",
  score: "评分",
  code: "登录码",
  phone: "手机号",
  file: "照片",
};

function problemInChinese(description: string): string {
  if (/at least \d+ characters/.test(description)) return "至少写两个字";
  if (/at most/.test(description)) return "太长了";
  if (/http\(s\) URL/.test(description)) return "照片链接无效";
  if (/unknown community/.test(description)) return "不在服务范围内";
  if (/is required/.test(description)) return "必填";
  if (/between 1 and 5/.test(description)) return "请选择 1 到 5 颗星";
  if (/degrees/.test(description)) return "位置无效,请重新选择";
  if (/control characters/.test(description)) return "含有无法识别的字符";
  return description;
}

function fieldLabel(field: string): string {
  const plain = field.replace(/^body\./, "").replace(/\[\d+\]$/, "");
  return FIELD_NAMES[plain] ?? plain;
}

const WORDS_BY_CODE: Record<string, string> = {
  network: "网络不通,请检查网络后再试。",
  unauthenticated: "登录已失效,请重新进入小程序。",
  permission_denied: "没有权限查看或办理这条反映。",
  not_found: "没有找到这条反映。",
  failed_precondition: "这条反映当前的状态不能这样操作。",
  already_exists: "已经提交过了。",
  unavailable: "服务暂时不可用,请稍后再试。",
  resource_exhausted: "操作太频繁,请稍后再试。",
};

/** What to tell the resident about a failure, in Chinese. */
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return "出错了,请稍后再试。";
  if (error.fields.length > 0) {
    return error.fields.map((f) => `${fieldLabel(f.field)}:${problemInChinese(f.description)}`).join(";");
  }
  if (error.code === "rate_limited") {
    return error.retryAfterSeconds > 0
      ? `操作太频繁,请 ${error.retryAfterSeconds} 秒后再试。`
      : "操作太频繁,请稍后再试。";
  }
  const words = WORDS_BY_CODE[error.code];
  if (words) return words;
  if (error.status === 404) return "服务器还不支持这个功能。";
  if (error.status >= 500) return "服务器出错了,请稍后再试。";
  return `请求没有成功(${error.status}),请稍后再试。`;
}
