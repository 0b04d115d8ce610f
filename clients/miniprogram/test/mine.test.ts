// 我的反映 and 议事结果: lists in Chinese, a refused token replaced once, erasure on request.

import { installFakeWx, SESSION, type FakeWx } from "./helpers/fake-wx";
import { methodsOf, renderPage, settle, textOf, type Page } from "./helpers/pages";
import { ticketJson } from "./helpers/tickets";

interface MineMethods {
  onShow(): void;
  onReachBottom(): void;
  onErase(): Promise<void>;
}

interface DecisionsMethods {
  onLoad(): void;
}

let wx: FakeWx;
let page: Page | undefined;

afterEach(() => page?.detach());

test("my reports list newest first with their status and who handles them; a row opens the ticket", async () => {
  wx = installFakeWx();
  wx.on("GET", "/v1/tickets", () => ({
    statusCode: 200,
    data: {
      tickets: [
        ticketJson({ id: "t-2", status: "in_progress" }),
        ticketJson({ id: "t-1", status: "received", party: "" }),
      ],
      next_page_token: "",
    },
  }));
  page = renderPage("mine");
  methodsOf<MineMethods>(page).onShow();
  await settle();

  const list = textOf(page, "#mine");
  expect(list.indexOf("处理中")).toBeLessThan(list.indexOf("已收到"));
  expect(list).toContain("物业正在处理");
  expect(list).toContain("已收到,正在确定由谁负责");
  page.querySelectorAll(".ticket")[0].dispatchEvent("click");
  await settle();
  expect(wx.calls.navigateTo).toEqual(["/pages/ticket/index?id=t-2"]);
});

test("the next page is asked with the server's token and appended", async () => {
  wx = installFakeWx();
  wx.on("GET", "/v1/tickets", (request) =>
    request.query.get("page_token") === "p2"
      ? { statusCode: 200, data: { tickets: [ticketJson({ id: "t-old" })], next_page_token: "" } }
      : { statusCode: 200, data: { tickets: [ticketJson({ id: "t-new" })], next_page_token: "p2" } },
  );
  page = renderPage("mine");
  methodsOf<MineMethods>(page).onShow();
  await settle();
  methodsOf<MineMethods>(page).onReachBottom();
  await settle();
  expect(page.data.tickets.map((t: { id: string }) => t.id)).toEqual(["t-new", "t-old"]);
  expect(wx.requestsTo("GET", "/v1/tickets")[0].query.get("page_size")).toBe("20");
});

test("an expired token is replaced by a fresh wx.login once, and the list still loads", async () => {
  wx = installFakeWx();
  wx.storage.set("linli.session", { ...SESSION, token: "stale" });
  wx.on("GET", "/v1/tickets", (request) =>
    request.header.Authorization === "Bearer stale"
      ? { statusCode: 401, data: { error: { code: "unauthenticated", message: "token expired", fields: [] } } }
      : { statusCode: 200, data: { tickets: [], next_page_token: "" } },
  );
  page = renderPage("mine");
  methodsOf<MineMethods>(page).onShow();
  await settle(20);

  expect(wx.requestsTo("POST", "/v1/auth/wechat")[0].body).toEqual({ code: "code-1" });
  expect(wx.requestsTo("GET", "/v1/tickets").map((r) => r.header.Authorization)).toEqual([
    "Bearer stale",
    "Bearer token-1",
  ]);
  expect(wx.storage.get("linli.session")).toEqual(SESSION);
  expect(page.querySelector("#mine-empty")).toBeTruthy();
});

test("a failed listing is said in Chinese", async () => {
  wx = installFakeWx();
  wx.on("GET", "/v1/tickets", () => ({
    statusCode: 503,
    data: { error: { code: "unavailable", message: "db", fields: [] } },
  }));
  page = renderPage("mine");
  methodsOf<MineMethods>(page).onShow();
  await settle();
  expect(textOf(page, "#mine-error")).toBe("服务暂时不可用,请稍后再试。");
});

test("erasure asks first, then DELETE /v1/me forgets the session", async () => {
  wx = installFakeWx();
  wx.on("GET", "/v1/tickets", () => ({ statusCode: 200, data: { tickets: [ticketJson()], next_page_token: "" } }));
  wx.on("DELETE", "/v1/me", () => ({ statusCode: 200, data: { tickets: 1, events: 2 } }));
  page = renderPage("mine");
  methodsOf<MineMethods>(page).onShow();
  await settle();

  wx.modalConfirms = false;
  await methodsOf<MineMethods>(page).onErase();
  expect(wx.requestsTo("DELETE", "/v1/me")).toHaveLength(0);

  wx.modalConfirms = true;
  await methodsOf<MineMethods>(page).onErase();
  await settle();
  expect(textOf(page, "#erase-status")).toBe("已删除:1 条反映不再与您关联。");
  expect(wx.storage.has("linli.session")).toBe(false);
  expect(page.querySelector("#mine")).toBeFalsy();
});

test("议事结果 shows the decisions of the community the resident last reported from", async () => {
  wx = installFakeWx();
  wx.storage.set("linli.place", { community: "梅林小区", building: "" });
  wx.on("GET", "/v1/meetings/public", () => ({
    statusCode: 200,
    data: {
      decisions: [
        {
          title: "小区停车秩序",
          outcome: "夜间消防通道禁停,违者由物业劝离",
          meeting_at: null,
          decided_at: "2026-11-30T12:00:00+00:00",
          week: "2026-W47",
          residents: 7,
          reports: 9,
        },
      ],
    },
  }));
  page = renderPage("decisions");
  methodsOf<DecisionsMethods>(page).onLoad();
  await settle();

  expect(wx.requestsTo("GET", "/v1/meetings/public")[0].query.get("community")).toBe("梅林小区");
  const decisions = textOf(page, "#decisions");
  expect(decisions).toContain("小区停车秩序");
  expect(decisions).toContain("夜间消防通道禁停,违者由物业劝离");
  expect(decisions).toContain("7 位居民反映 9 件");
});

test("议事结果 of a community without decisions says so", async () => {
  wx = installFakeWx();
  wx.on("GET", "/v1/meetings/public", () => ({ statusCode: 200, data: { decisions: [] } }));
  page = renderPage("decisions");
  methodsOf<DecisionsMethods>(page).onLoad();
  await settle();
  expect(page.querySelector("#decisions-empty")).toBeTruthy();
  expect(wx.requestsTo("GET", "/v1/meetings/public")[0].query.get("community")).toBe("金桥新村");
});
