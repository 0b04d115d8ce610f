// 我要反映: the button waits for a real description, instant answers quote no precedent, errors read in Chinese.

import { installFakeWx, type FakeWx } from "./helpers/fake-wx";
import { distModule, methodsOf, renderPage, settle, textOf, wait, type Page } from "./helpers/pages";

interface SubmitMethods {
  onLoad(): void;
  onSubmit(): Promise<void>;
  onChoosePhotos(): Promise<void>;
  onChooseLocation(): Promise<void>;
}

const { config } = distModule<{ config: { answerDebounceMs: number; subscribeTemplates: Record<string, string> } }>(
  "config.js",
);

const ANSWER = {
  answered: true,
  reason: "",
  answer: {
    text: "已由物业更换楼道灯泡",
    party: "property_manager",
    party_name: "物业",
    similar_resolved_count: 3,
    precedent: null,
    catalog_entry: {
      entry_id: "lighting",
      name: "楼道照明",
      party: "property_manager",
      basis: "物业服务合同",
      sla_hours: 48,
    },
  },
};

let wx: FakeWx;
let page: Page;

async function type(text: string): Promise<void> {
  page.querySelector("#text")!.dispatchEvent("change", { detail: text });
  await settle(1);
}

function submitDisabled(): boolean {
  return Boolean((page.querySelector("#submit") as unknown as { data: { disabled: boolean } }).data.disabled);
}

beforeEach(() => {
  wx = installFakeWx();
  wx.storage.set("linli.place", { community: "恒康居民区", building: "3号楼" });
  config.answerDebounceMs = 30;
  config.subscribeTemplates = { accepted: "tmpl-accepted", resolved: "tmpl-resolved" };
  page = renderPage("submit");
  methodsOf<SubmitMethods>(page).onLoad();
});

afterEach(() => page.detach());

test("the button stays disabled for a description under two characters and nothing is sent", async () => {
  await type("灯");
  await settle();
  expect(submitDisabled()).toBe(true);
  await methodsOf<SubmitMethods>(page).onSubmit();
  expect(wx.requestsTo("POST", "/v1/tickets")).toHaveLength(0);

  await type("灯坏");
  await settle();
  expect(submitDisabled()).toBe(false);
});

test("while typing, one debounced question shows the instant answer and how many cases agree", async () => {
  wx.on("POST", "/v1/answers", () => ({ statusCode: 200, data: ANSWER }));
  await type("楼道");
  await type("楼道灯");
  await type("楼道灯坏了归谁管?");
  await wait(80);

  const asked = wx.requestsTo("POST", "/v1/answers");
  expect(asked).toHaveLength(1);
  expect(asked[0].body).toEqual({ text: "楼道灯坏了归谁管?", community: "恒康居民区" });
  expect(asked[0].header.Authorization).toBe("Bearer token-1");
  expect(textOf(page, "#answer-party")).toBe("物业");
  expect(textOf(page, "#answer-text")).toBe("已由物业更换楼道灯泡");
  expect(textOf(page, "#answer-count")).toBe("已有 3 件相似问题办结");
  expect(page.querySelector("#precedent-complaint")).toBeFalsy();
  expect(textOf(page, "#answer-basis")).toContain("楼道照明");
});

test("no answer leaves the form as it is", async () => {
  wx.on("POST", "/v1/answers", () => ({
    statusCode: 200,
    data: { answered: false, reason: "not_a_question", answer: null },
  }));
  await type("楼道灯坏了一个星期");
  await wait(80);
  expect(page.querySelector("#answer")).toBeFalsy();
  expect(submitDisabled()).toBe(false);
});

test("a submit asks for the notices, sends the draft once with its key and opens the ticket", async () => {
  wx.on("POST", "/v1/tickets", () => ({ statusCode: 201, data: { id: "t-42" } }));
  wx.chosenPlace = { name: "恒康居民区3号楼", address: "", latitude: 31.2304, longitude: 121.4737 };
  await type("3号楼楼道的灯坏了好几天了");
  await methodsOf<SubmitMethods>(page).onChooseLocation();
  await methodsOf<SubmitMethods>(page).onSubmit();
  await settle();

  expect(wx.calls.requestSubscribeMessage).toEqual([["tmpl-accepted", "tmpl-resolved"]]);
  const [sent] = wx.requestsTo("POST", "/v1/tickets");
  const body = sent.body as { text: string; community: string; building: string; location: { latitude: number } };
  expect(body.text).toBe("3号楼楼道的灯坏了好几天了");
  expect(body.community).toBe("恒康居民区");
  expect(body.building).toBe("3号楼");
  // The map's GCJ-02 point goes out as WGS-84: a few hundred metres apart in Shanghai.
  expect(Math.abs(body.location.latitude - 31.2304)).toBeGreaterThan(0.001);
  expect(sent.header["Idempotency-Key"]).toMatch(/^mp-/);
  expect(wx.calls.navigateTo).toEqual(["/pages/ticket/index?id=t-42"]);
  expect(page.data.text).toBe("");
});

test("a refused submit says what is wrong in Chinese and keeps the draft", async () => {
  wx.on("POST", "/v1/tickets", () => ({
    statusCode: 422,
    data: {
      error: {
        code: "invalid_argument",
        message: "community: unknown community '火星小区'",
        fields: [{ field: "community", description: "unknown community '火星小区'" }],
      },
    },
  }));
  await type("3号楼楼道的灯坏了好几天了");
  await methodsOf<SubmitMethods>(page).onSubmit();
  await settle();

  expect(textOf(page, "#form-error")).toBe("小区:不在服务范围内");
  expect(page.data.text).toBe("3号楼楼道的灯坏了好几天了");
  expect(submitDisabled()).toBe(false);
});

test("too many submits say when to try again", async () => {
  wx.on("POST", "/v1/tickets", () => ({
    statusCode: 429,
    header: { "retry-after": "42" },
    data: { error: { code: "rate_limited", message: "too many", fields: [] } },
  }));
  await type("3号楼楼道的灯坏了好几天了");
  await methodsOf<SubmitMethods>(page).onSubmit();
  await settle();
  expect(textOf(page, "#form-error")).toBe("操作太频繁,请 42 秒后再试。");
});

test("photos go to /v1/uploads; the ticket takes those uploaded by their ids", async () => {
  wx.chosenPhotos = ["wxfile://tmp/a.jpg"];
  wx.uploadAnswer = { statusCode: 201, data: { upload_id: "u-1", url: "https://files.example/u-1.jpg" } };
  wx.on("POST", "/v1/tickets", () => ({ statusCode: 201, data: { id: "t-43" } }));
  await type("楼道堆满了杂物");
  await methodsOf<SubmitMethods>(page).onChoosePhotos();
  await settle();

  expect(wx.uploads[0]).toMatchObject({ filePath: "wxfile://tmp/a.jpg", name: "file" });
  expect(wx.uploads[0].url).toMatch(/\/v1\/uploads$/);
  expect(wx.uploads[0].header.Authorization).toBe("Bearer token-1");
  await methodsOf<SubmitMethods>(page).onSubmit();
  const body = wx.requestsTo("POST", "/v1/tickets")[0].body as { attachment_ids: string[]; attachment_urls?: string[] };
  expect(body.attachment_ids).toEqual(["u-1"]);
  expect(body.attachment_urls).toBeUndefined(); // signed links expire: the ticket keeps the photo, not the link
});

test("a server without /v1/uploads marks the photo failed and the report still goes", async () => {
  wx.chosenPhotos = ["wxfile://tmp/b.jpg"];
  await type("楼道堆满了杂物");
  await methodsOf<SubmitMethods>(page).onChoosePhotos();
  await settle();

  expect(page.data.photos[0]).toMatchObject({ state: "failed", problem: "上传失败:服务器还不支持这个功能。" });
  expect(submitDisabled()).toBe(false);
});
