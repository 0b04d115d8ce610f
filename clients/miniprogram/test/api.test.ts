// The API layer without pages: error words, token renewal, paths of the endpoints to come, coordinates.

import { installFakeWx, SESSION } from "./helpers/fake-wx";
import { distModule } from "./helpers/pages";

type Errors = typeof import("../miniprogram/api/errors");
type Session = typeof import("../miniprogram/api/session");
type Messages = typeof import("../miniprogram/api/messages");
type Sms = typeof import("../miniprogram/api/sms");
type Http = typeof import("../miniprogram/api/http");
type Geo = typeof import("../miniprogram/utils/geo");

const { ApiError, describeError, errorFromResponse } = distModule<Errors>("api/errors.js");
const session = distModule<Session>("api/session.js");
const messages = distModule<Messages>("api/messages.js");
const sms = distModule<Sms>("api/sms.js");
const http = distModule<Http>("api/http.js");
const geo = distModule<Geo>("utils/geo.js");

describe("errors", () => {
  test("every field at fault is named in Chinese", () => {
    const error = errorFromResponse(422, {
      error: {
        code: "invalid_argument",
        message: "…",
        fields: [
          { field: "text", description: "must have at least 2 characters besides spaces" },
          { field: "attachment_urls[0]", description: "must be an http(s) URL" },
        ],
      },
    });
    expect(describeError(error)).toBe("问题描述:至少写两个字;照片:照片链接无效");
  });

  test("a body in another shape keeps its status, and no network is said as such", () => {
    expect(errorFromResponse(502, "<html>bad gateway</html>").code).toBe("http_502");
    expect(describeError(errorFromResponse(502, "<html>"))).toBe("服务器出错了,请稍后再试。");
    expect(describeError(new ApiError(0, "network", "request:fail timeout"))).toBe("网络不通,请检查网络后再试。");
    expect(describeError(new Error("boom"))).toBe("出错了,请稍后再试。");
  });
});

describe("session", () => {
  test("a token about to expire is renewed before use", async () => {
    const wx = installFakeWx();
    wx.storage.set("linli.session", {
      ...SESSION,
      token: "old",
      expires_at: new Date(Date.now() + 30_000).toISOString(),
    });
    expect(await session.residentToken()).toBe("token-1");
    expect(wx.requestsTo("POST", "/v1/auth/wechat")).toHaveLength(1);
  });

  test("a good token is reused without signing in", async () => {
    const wx = installFakeWx();
    expect(await session.residentToken()).toBe("token-1");
    expect(wx.requestsTo("POST", "/v1/auth/wechat")).toHaveLength(0);
  });

  test("with a development openid configured, the development verifier's code is sent instead of wx.login's", async () => {
    const wx = installFakeWx({ signedIn: false });
    const { config } = distModule<{ config: { devLoginOpenid: string } }>("config.js");
    config.devLoginOpenid = "devtools-1";
    try {
      await session.login();
    } finally {
      config.devLoginOpenid = "";
    }
    expect(wx.requestsTo("POST", "/v1/auth/wechat")[0].body).toEqual({ code: "dev:devtools-1" });
  });

  test("calls made while signing in share one login", async () => {
    const wx = installFakeWx({ signedIn: false });
    const tokens = await Promise.all([session.residentToken(), session.residentToken(), session.login()]);
    expect(tokens.map((t) => (typeof t === "string" ? t : t.token))).toEqual(["token-1", "token-1", "token-1"]);
    expect(wx.requestsTo("POST", "/v1/auth/wechat")).toHaveLength(1);
  });

  test("a refused login code is an error the resident reads", async () => {
    const wx = installFakeWx({ signedIn: false });
    wx.on("POST", "/v1/auth/wechat", () => ({
      statusCode: 401,
      data: { error: { code: "unauthenticated", message: "WeChat refused the code", fields: [] } },
    }));
    await expect(session.login()).rejects.toMatchObject({ status: 401, code: "unauthenticated" });
    expect(wx.storage.has("linli.session")).toBe(false);
  });
});

describe("endpoints the server does not have yet", () => {
  test("the conversation is read and written under the ticket", async () => {
    const wx = installFakeWx();
    wx.on("GET", "/v1/tickets/t%2F1/messages", () => ({ statusCode: 200, data: { messages: [] } }));
    wx.on("POST", "/v1/tickets/t-1/messages", () => ({ statusCode: 201, data: { id: "m-1" } }));
    expect(await messages.listTicketMessages("t/1")).toEqual({ messages: [] });
    await messages.postTicketMessage("t-1", { text: "几点来?" });
    expect(wx.requestsTo("POST", "/v1/tickets/t-1/messages")[0].body).toEqual({ text: "几点来?" });
  });

  test("an SMS login keeps its session like a WeChat one", async () => {
    const wx = installFakeWx({ signedIn: false });
    wx.on("POST", "/v1/auth/sms/code", () => ({ statusCode: 200, data: { retry_after_seconds: 60 } }));
    wx.on("POST", "/v1/auth/sms/login", () => ({ statusCode: 200, data: SESSION }));
    expect(await sms.requestSmsCode("13800138000")).toEqual({ retry_after_seconds: 60 });
    await sms.loginWithSms("13800138000", "246810");
    expect(wx.requestsTo("POST", "/v1/auth/sms/login")[0].body).toEqual({ phone: "13800138000", code: "246810" });
    expect(wx.storage.get("linli.session")).toEqual(SESSION);
  });
});

test("query values are percent-encoded and empty ones left out", () => {
  const url = http.apiUrl("/v1/meetings/public", { community: "恒康居民区", page_token: "", page_size: 20 });
  expect(url).toBe(
    "http://127.0.0.1:8080/v1/meetings/public?community=%E6%81%92%E5%BA%B7%E5%B1%85%E6%B0%91%E5%8C%BA&page_size=20",
  );
});

test("a GCJ-02 point from the map returns to within a metre of its WGS-84 origin", () => {
  const origin = { latitude: 31.2304, longitude: 121.4737 };
  const onMap = geo.wgs84ToGcj02(origin);
  // Shanghai's published offset is some 500 m, mostly eastwards.
  expect(onMap.longitude - origin.longitude).toBeGreaterThan(0.003);
  const back = geo.gcj02ToWgs84(onMap);
  expect(Math.abs(back.latitude - origin.latitude)).toBeLessThan(1e-5);
  expect(Math.abs(back.longitude - origin.longitude)).toBeLessThan(1e-5);
  expect(geo.gcj02ToWgs84({ latitude: 48.8566, longitude: 2.3522 })).toEqual({ latitude: 48.8566, longitude: 2.3522 });
});

test("notice consent is asked once per configured template", () => {
  type Config = typeof import("../miniprogram/config");
  const { config, subscribeTemplateIds } = distModule<Config>("config.js");
  const saved = config.subscribeTemplates;
  try {
    config.subscribeTemplates = { accepted: "tmpl-update", resolved: "tmpl-update" };
    expect(subscribeTemplateIds()).toEqual(["tmpl-update"]);
    config.subscribeTemplates = { accepted: "", resolved: "tmpl-done" };
    expect(subscribeTemplateIds()).toEqual(["tmpl-done"]);
  } finally {
    config.subscribeTemplates = saved;
  }
});
