// Drives the built API layer (dist/api) against a running intake and prints what it saw as JSON.
// Usage: node run-against-intake.cjs --base http://127.0.0.1:8080 --openid mp-1 --community 恒康居民区
//        [--photo path/to/image.png] [--messages]
// Started by tests/integration/test_miniprogram_api.py with a real intake; --messages only once the server has
// /v1/tickets/{id}/messages.
"use strict";

const { join } = require("node:path");
const { parseArgs } = require("node:util");
const { createWx } = require("./wx-node-shim.cjs");

const DIST = join(__dirname, "..", "..", "dist");
const { values: args } = parseArgs({
  options: {
    base: { type: "string" },
    openid: { type: "string" },
    community: { type: "string" },
    photo: { type: "string" },
    messages: { type: "boolean", default: false },
  },
});

globalThis.wx = createWx({ openid: args.openid });
const load = (module) => require(join(DIST, module));
load("config.js").config.apiBaseUrl = args.base;
const session = load("api/session.js");
const tickets = load("api/tickets.js");
const answers = load("api/answers.js");
const meetings = load("api/meetings.js");
const errors = load("api/errors.js");

async function refusal(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return { status: error.status, code: error.code, words: errors.describeError(error) };
  }
}

async function optionalSteps(ticketId) {
  const report = {};
  if (args.photo) {
    const uploaded = await load("api/uploads.js").uploadPhoto(args.photo);
    report.upload = uploaded;
    report.photo_ticket = await tickets.submitTicket(
      { text: "楼道里堆的杂物挡住了消防通道", community: args.community, attachment_ids: [uploaded.upload_id] },
      `mp-it-photo-${args.openid}`,
    );
  }
  if (args.messages) {
    const messages = load("api/messages.js");
    report.posted_message = await messages.postTicketMessage(ticketId, { text: "晚上七点后家里有人" });
    report.messages = await messages.listTicketMessages(ticketId);
  }
  return report;
}

async function main() {
  const signedIn = await session.login();
  const draft = {
    text: "3号楼2单元楼道的灯坏了一个多星期了,晚上上下楼黑漆漆的",
    community: args.community,
    building: "3号楼",
    location: { latitude: 31.2304, longitude: 121.4737 },
  };
  const key = `mp-it-${args.openid}`;
  const submitted = await tickets.submitTicket(draft, key);
  const retried = await tickets.submitTicket(draft, key);
  const mine = await tickets.listMyTickets();
  const read = await tickets.getTicket(submitted.id);
  const answer = await answers.askInstantAnswer("楼道灯坏了归谁管?", args.community);
  const decisions = await meetings.listPublicDecisions(args.community);
  const refused = await refusal(tickets.submitTicket({ text: "灯", community: "火星小区" }, `${key}-bad`));
  const missing = await refusal(tickets.getTicket("no-such-ticket"));
  const report = { session: signedIn, submitted, retried, mine, read, answer, decisions, refused, missing };
  Object.assign(report, await optionalSteps(submitted.id));
  process.stdout.write(JSON.stringify(report));
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error} ${JSON.stringify(error)}\n`);
  process.exit(1);
});
