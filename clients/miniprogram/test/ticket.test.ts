// 反映详情: who handles it in Chinese, the timeline, rating and reopening, and the conversation when the server has it.

import { installFakeWx, type FakeWx } from "./helpers/fake-wx";
import { methodsOf, renderPage, settle, textOf, type Page } from "./helpers/pages";
import { ticketJson } from "./helpers/tickets";

interface TicketMethods {
  onLoad(query: Record<string, string>): void;
  onUnload(): void;
  onRate(): Promise<void>;
  onReopen(): Promise<void>;
  onSendMessage(): Promise<void>;
}

let wx: FakeWx;
let page: Page;

async function open(ticket: Record<string, unknown>): Promise<void> {
  wx.on("GET", "/v1/tickets/t-1", () => ({ statusCode: 200, data: ticket }));
  methodsOf<TicketMethods>(page).onLoad({ id: "t-1" });
  await settle();
}

beforeEach(() => {
  wx = installFakeWx();
  page = renderPage("ticket");
});

afterEach(() => {
  methodsOf<TicketMethods>(page).onUnload();
  page.detach();
});

test("the party handling it and the timeline read in Chinese", async () => {
  await open(ticketJson());

  expect(textOf(page, "#status")).toBe("已受理");
  expect(textOf(page, "#handling")).toBe("物业已受理");
  const timeline = textOf(page, "#timeline");
  expect(timeline).toContain("已收到您的反映");
  expect(timeline).toContain("已交给物业办理");
  expect(timeline).toContain("为什么是物业:楼道照明属物业服务范围");
  expect(timeline.indexOf("已收到您的反映")).toBeLessThan(timeline.indexOf("物业已受理"));
  expect(page.querySelector("#rate")).toBeFalsy();
  expect(page.querySelector("#reopen")).toBeFalsy();
});

test("neighbours' reports and a transfer are told plainly", async () => {
  await open(
    ticketJson({
      status: "transferred",
      party: "street_office",
      duplicate_notice: "2 位邻居也反映了这个问题",
      events: [
        {
          kind: "transferred",
          actor: "w-7",
          party: "property_manager",
          note: "小区外市政路灯归街道",
          from_party: "property_manager",
          to_party: "street_office",
          at: "2026-12-01T10:00:00+00:00",
        },
      ],
    }),
  );
  expect(textOf(page, "#handling")).toBe("已转交街道/社区办理");
  expect(textOf(page, "#neighbours")).toBe("2 位邻居也反映了这个问题");
  expect(textOf(page, "#timeline")).toContain("已转交街道/社区办理小区外市政路灯归街道");
});

test("a resolved ticket is rated; the answer replaces what is shown", async () => {
  await open(ticketJson({ status: "resolved", resolution: "已更换灯泡" }));
  expect(textOf(page, "#handling")).toBe("物业已办结,请您评价");
  expect(textOf(page, "#resolution")).toBe("已更换灯泡");
  wx.on("POST", "/v1/tickets/t-1/rate", () => ({
    statusCode: 200,
    data: ticketJson({ status: "closed", rating: 5, resolution: "已更换灯泡" }),
  }));

  page.querySelector("#rate-score")!.dispatchEvent("change", { detail: 5 });
  page.querySelector("#rate-comment")!.dispatchEvent("change", { detail: " 很快 " });
  await settle();
  await methodsOf<TicketMethods>(page).onRate();
  await settle();

  expect(wx.requestsTo("POST", "/v1/tickets/t-1/rate")[0].body).toEqual({ score: 5, comment: "很快" });
  expect(textOf(page, "#status")).toBe("已关闭");
  expect(page.querySelector("#rate")).toBeFalsy();
  expect(page.querySelector("#reopen")).toBeTruthy();
});

test("reopening needs a reason, and a refusal from the server is shown in Chinese", async () => {
  await open(ticketJson({ status: "closed", rating: 4 }));
  await methodsOf<TicketMethods>(page).onReopen();
  await settle();
  expect(textOf(page, "#ticket-error")).toBe("请写一下还有什么问题(至少两个字)。");
  expect(wx.requestsTo("POST", "/v1/tickets/t-1/reopen")).toHaveLength(0);

  wx.on("POST", "/v1/tickets/t-1/reopen", () => ({
    statusCode: 409,
    data: { error: { code: "failed_precondition", message: "ticket t-1 is closed for good", fields: [] } },
  }));
  page.querySelector("#reopen-reason")!.dispatchEvent("change", { detail: "灯又不亮了" });
  await settle();
  await methodsOf<TicketMethods>(page).onReopen();
  await settle();
  expect(wx.requestsTo("POST", "/v1/tickets/t-1/reopen")[0].body).toEqual({ reason: "灯又不亮了" });
  expect(textOf(page, "#ticket-error")).toBe("这条反映当前的状态不能这样操作。");
});

test("a ticket that is not the resident's reads as not found", async () => {
  wx.on("GET", "/v1/tickets/t-1", () => ({
    statusCode: 404,
    data: { error: { code: "not_found", message: "ticket t-1 not found", fields: [] } },
  }));
  methodsOf<TicketMethods>(page).onLoad({ id: "t-1" });
  await settle();
  expect(textOf(page, "#ticket-error")).toBe("没有找到这条反映。");
});

test("the conversation shows who wrote, the after-photos, and sends the resident's message", async () => {
  const messages = [
    {
      id: "m-1",
      ticket_id: "t-1",
      author: "resident",
      party: "",
      text: "晚上几点能来?",
      internal: false,
      asks_resident: false,
      attachment_urls: [],
      created_at: "2026-12-01T09:10:00+00:00",
    },
    {
      id: "m-2",
      ticket_id: "t-1",
      author: "worker",
      party: "property_manager",
      text: "已经换好了",
      internal: false,
      asks_resident: false,
      attachment_urls: ["https://files.example/after.jpg"],
      created_at: "2026-12-01T12:00:00+00:00",
    },
  ];
  wx.on("GET", "/v1/tickets/t-1/messages", () => ({ statusCode: 200, data: { messages } }));
  wx.on("POST", "/v1/tickets/t-1/messages", (request) => ({
    statusCode: 201,
    data: {
      id: "m-3",
      ...(request.body as object),
      ticket: ticketJson({ status: "resolved", resolution: "已更换灯泡" }),
    },
  }));
  await open(ticketJson({ status: "resolved", resolution: "已更换灯泡" }));

  const conversation = textOf(page, "#conversation");
  expect(conversation).toContain("我 ·");
  expect(conversation).toContain("物业 ·");
  expect(conversation).toContain("已经换好了");
  expect(page.data.afterPhotos).toEqual(["https://files.example/after.jpg"]);
  expect(page.querySelector("#after-photos")).toBeTruthy();

  page.querySelector("#message-input")!.dispatchEvent("change", { detail: "谢谢" });
  await settle();
  await methodsOf<TicketMethods>(page).onSendMessage();
  expect(wx.requestsTo("POST", "/v1/tickets/t-1/messages")[0].body).toEqual({ text: "谢谢" });
  expect(wx.requestsTo("GET", "/v1/tickets/t-1/messages")).toHaveLength(2);
});

test("a question shows the ticket waiting, and the answer puts it back to work", async () => {
  const question = {
    id: "m-1",
    ticket_id: "t-1",
    author: "worker",
    party: "property_manager",
    text: "请问是哪个单元?",
    internal: false,
    asks_resident: true,
    attachment_urls: [],
    created_at: "2026-12-01T09:10:00+00:00",
  };
  wx.on("GET", "/v1/tickets/t-1/messages", () => ({ statusCode: 200, data: { messages: [question] } }));
  wx.on("POST", "/v1/tickets/t-1/messages", (request) => ({
    statusCode: 201,
    data: { id: "m-2", ...(request.body as object), ticket: ticketJson({ status: "accepted" }) },
  }));
  await open(ticketJson({ status: "waiting_resident", waiting_since: "2026-12-01T09:10:00+00:00" }));

  expect(textOf(page, "#status")).toBe("待您答复");
  expect(textOf(page, "#handling")).toBe("物业想向您了解情况,请在下方对话里回复");
  expect(textOf(page, "#conversation")).toContain("物业 提问 ·");

  page.querySelector("#message-input")!.dispatchEvent("change", { detail: "3 单元" });
  await settle();
  await methodsOf<TicketMethods>(page).onSendMessage();
  expect(wx.requestsTo("POST", "/v1/tickets/t-1/messages")[0].body).toEqual({ text: "3 单元" });
  expect(textOf(page, "#status")).toBe("已受理");
});

test("without the server's messages endpoint the conversation says so and the rest works", async () => {
  await open(ticketJson());
  expect(textOf(page, "#conversation-problem")).toBe("对话暂时看不到:服务器还不支持这个功能。");
  expect(textOf(page, "#handling")).toBe("物业已受理");
});

test("uploaded photos show: the resident's with the ticket, the workers' after-photos with the replies", async () => {
  const photo = (id: string, kind: string) => ({
    id,
    kind,
    content_type: "image/jpeg",
    width: 640,
    height: 480,
    url: `https://files.example/${id}.jpg?sig=1`,
    thumbnail_url: `https://files.example/${id}-thumb.jpg?sig=1`,
  });
  wx.on("GET", "/v1/tickets/t-1/messages", () => ({ statusCode: 200, data: { messages: [] } }));
  await open(
    ticketJson({
      status: "resolved",
      resolution: "已清理干净",
      attachment_urls: ["https://elsewhere.example/old.jpg"],
      attachments: [photo("p-1", "before"), photo("p-2", "after")],
    }),
  );

  expect(page.data.ticket.photos).toEqual(["https://elsewhere.example/old.jpg", "https://files.example/p-1.jpg?sig=1"]);
  expect(page.data.afterPhotos).toEqual(["https://files.example/p-2.jpg?sig=1"]);
  expect(page.querySelector("#after-photos")).toBeTruthy();
});
