// The resident's sign-in: wx.login's code exchanged for a bearer token, kept in storage until it nearly expires.

import { config } from "../config";
import { ApiError } from "./errors";
import { call } from "./http";
import type { Session } from "./types";

export const SESSION_KEY = "linli.session";
// A token this close to its expiry is renewed before use rather than sent and refused.
const RENEW_BEFORE_MS = 60_000;

/** The stored session, or null when there is none (or it is unreadable). */
export function storedSession(): Session | null {
  const value: unknown = wx.getStorageSync(SESSION_KEY);
  if (!value || typeof value !== "object") return null;
  const session = value as Session;
  return typeof session.token === "string" && typeof session.expires_at === "string" ? session : null;
}

export function keepSession(session: Session): void {
  wx.setStorageSync(SESSION_KEY, session);
}

export function forgetSession(): void {
  wx.removeStorageSync(SESSION_KEY);
}

function isFresh(session: Session, now: number): boolean {
  return new Date(session.expires_at).getTime() - now > RENEW_BEFORE_MS;
}

/** The code of wx.login, valid once for a few minutes (with config.devLoginOpenid: the development verifier's). */
export function wechatLoginCode(): Promise<string> {
  if (config.devLoginOpenid) return Promise.resolve(`dev:${config.devLoginOpenid}`);
  return new Promise((resolve, reject) => {
    wx.login({
      success: (result) => (result.code ? resolve(result.code) : reject(new ApiError(0, "wx_login", "微信登录失败"))),
      fail: (problem) => reject(new ApiError(0, "wx_login", problem.errMsg)),
    });
  });
}

/** POST /v1/auth/wechat with a login code; the session is kept. */
export async function loginWithCode(code: string): Promise<Session> {
  const session = await call<Session>({ method: "POST", path: "/v1/auth/wechat", body: { code } });
  keepSession(session);
  return session;
}

// The sign-in under way, shared: the app's launch and the first page's calls need one login, not one each.
let signingIn: Promise<Session> | null = null;

/** Signs in with a fresh wx.login code (joining a sign-in already under way). */
export function login(): Promise<Session> {
  if (!signingIn) {
    signingIn = wechatLoginCode()
      .then(loginWithCode)
      .finally(() => {
        signingIn = null;
      });
  }
  return signingIn;
}

/** The resident's token: the stored one while it is good, else a fresh sign-in. */
export async function residentToken(now: number = Date.now()): Promise<string> {
  const session = storedSession();
  if (session && isFresh(session, now)) return session.token;
  return (await login()).token;
}

/** Runs `send` with the resident's token; a token refused (expired, or the server's key changed) is replaced once. */
export async function asResident<T>(send: (token: string) => Promise<T>): Promise<T> {
  try {
    return await send(await residentToken());
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    forgetSession();
    return send((await login()).token);
  }
}
