// Drives the built SMS login (dist/api/sms.js) against a running intake and prints what it saw as JSON.
// Usage: node sms-against-intake.cjs --base http://127.0.0.1:8080 --phone 13800138000 [--code 123456]
// Without --code it asks for a code; with it, it logs in, then lists the resident's tickets with the kept session.
// Started by tests/integration/test_resident_logins.py, which reads the code intake's development provider printed.
"use strict";

const { join } = require("node:path");
const { parseArgs } = require("node:util");
const { createWx } = require("./wx-node-shim.cjs");

const DIST = join(__dirname, "..", "..", "dist");
const { values: args } = parseArgs({
  options: { base: { type: "string" }, phone: { type: "string" }, code: { type: "string" } },
});

globalThis.wx = createWx({ openid: "unused-by-sms" });
const load = (module) => require(join(DIST, module));
load("config.js").config.apiBaseUrl = args.base;
const sms = load("api/sms.js");
const tickets = load("api/tickets.js");

async function main() {
  if (!args.code) {
    process.stdout.write(JSON.stringify({ sent: await sms.requestSmsCode(args.phone) }));
    return;
  }
  const session = await sms.loginWithSms(args.phone, args.code);
  const mine = await tickets.listMyTickets();
  process.stdout.write(JSON.stringify({ session, mine }));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
