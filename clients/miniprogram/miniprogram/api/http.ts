// One call to intake's JSON API over wx.request (or wx.uploadFile), as a promise that fails with ApiError.

import { config } from "../config";
import { ApiError, errorFromResponse, networkError } from "./errors";

export type Method = "GET" | "POST" | "DELETE";
export type Query = Record<string, string | number | undefined>;

export interface CallOptions {
  method: Method;
  path: string;
  query?: Query;
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
}

export interface UploadOptions {
  path: string;
  filePath: string;
  /** The multipart field that carries the file. */
  name: string;
  formData?: Record<string, string>;
  token?: string;
}

/** The API's address of `path` with the query's set values, percent-encoded. */
export function apiUrl(path: string, query: Query = {}): string {
  const pairs = Object.keys(query)
    .filter((key) => query[key] !== undefined && query[key] !== "")
    .map((key) => `${encodeURIComponent(key)}=${encodeURIComponent(String(query[key]))}`);
  return `${config.apiBaseUrl}${path}${pairs.length ? `?${pairs.join("&")}` : ""}`;
}

function headerValue(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

function parseBody(data: unknown): unknown {
  if (typeof data !== "string") return data;
  if (data === "") return null;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

function settle<T>(statusCode: number, data: unknown, headers?: Record<string, string>): T {
  const body = parseBody(data);
  if (statusCode >= 200 && statusCode < 300) return body as T;
  throw errorFromResponse(statusCode, body, headerValue(headers, "Retry-After"));
}

function authHeaders(token: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return token ? { ...extra, Authorization: `Bearer ${token}` } : { ...extra };
}

/** Calls the API; resolves with the parsed JSON of a 2xx answer, rejects with ApiError otherwise. */
export function call<T>(options: CallOptions): Promise<T> {
  const headers = authHeaders(options.token, { Accept: "application/json", ...options.headers });
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  return new Promise<T>((resolve, reject) => {
    wx.request({
      url: apiUrl(options.path, options.query),
      method: options.method,
      header: headers,
      // Sent as text so that what goes over the wire does not depend on how the platform serializes objects.
      data: options.body === undefined ? undefined : JSON.stringify(options.body),
      dataType: "其他",
      responseType: "text",
      success(result) {
        try {
          resolve(settle<T>(result.statusCode, result.data, result.header as Record<string, string>));
        } catch (error) {
          reject(error);
        }
      },
      fail(problem) {
        reject(networkError(problem.errMsg));
      },
    });
  });
}

/** Uploads a local file as multipart/form-data; resolves with the parsed JSON of a 2xx answer. */
export function upload<T>(options: UploadOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    wx.uploadFile({
      url: apiUrl(options.path),
      filePath: options.filePath,
      name: options.name,
      formData: options.formData,
      header: authHeaders(options.token, { Accept: "application/json" }),
      success(result) {
        try {
          resolve(settle<T>(result.statusCode, result.data));
        } catch (error) {
          reject(error);
        }
      },
      fail(problem) {
        reject(networkError(problem.errMsg));
      },
    });
  });
}

export { ApiError };
