// A Node.js client of linli built only from protos/linli/v1 with @grpc/grpc-js and @grpc/proto-loader: it proves the
// contract works from a stack nobody on the team wrote. It calls each service it is given a target for and prints one
// JSON object on stdout; tests/integration/test_node_client.py asserts on it.
//
//   node tests/node/interop_client.mjs --protos protos [--retrieval HOST:PORT] [--routing HOST:PORT]
//        [--intake HOST:PORT] [--token TOKEN] [--service-token TOKEN] [--text TEXT] [--community NAME] [--resident ID]
//
// Intake needs a resident's token (`--token`, from POST /v1/auth/wechat or `linli token issue --kind resident`): it is
// sent as the `authorization: Bearer <token>` metadata, as any gRPC client would. Retrieval and routing answer
// services only: `--service-token` (a service's or an admin's token) goes with each of their calls.
//
// Exit status: 0 when every call behaved as the contract says, 1 on an unexpected error (printed on stderr), 2 on
// bad arguments.

import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const DEADLINE_MS = 20_000;
const OPTIONS = {
  protos: { type: "string" },
  retrieval: { type: "string" },
  routing: { type: "string" },
  intake: { type: "string" },
  token: { type: "string", default: "" },
  "service-token": { type: "string", default: "" },
  text: { type: "string", default: "电梯坏了,有人被关在里面,物业电话一直打不通" },
  community: { type: "string", default: "恒康居民区" },
  resident: { type: "string", default: "node-interop" },
};

/** Loads every .proto of linli.v1 the way a third party would: from the files, no generated code. */
function loadLinli(protoRoot) {
  const folder = join(protoRoot, "linli", "v1");
  const files = readdirSync(folder)
    .filter((name) => name.endsWith(".proto"))
    .map((name) => join("linli", "v1", name));
  const definition = protoLoader.loadSync(files, {
    includeDirs: [protoRoot],
    // Field names as written in the protos, int64 as decimal strings (JS numbers lose precision), enum names.
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).linli.v1;
}

/** Metadata carrying a bearer token; empty metadata without one. */
function bearer(token) {
  const metadata = new grpc.Metadata();
  if (token) metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

/** Promise wrapper of a unary call with a deadline and, optionally, a bearer token. */
function call(client, method, request, token = "") {
  return new Promise((resolvePromise, reject) => {
    client[method](request, bearer(token), { deadline: Date.now() + DEADLINE_MS }, (error, reply) =>
      error ? reject(error) : resolvePromise(reply),
    );
  });
}

/** Reads one protobuf varint at `offset`; returns [value, nextOffset]. */
function readVarint(bytes, offset) {
  let value = 0;
  let shift = 0;
  let position = offset;
  for (;;) {
    const byte = bytes[position++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, position];
    shift += 7;
  }
}

/** Splits a protobuf message into {fieldNumber: [values]}; length-delimited values stay bytes. */
function decodeFields(bytes) {
  const fields = {};
  let offset = 0;
  while (offset < bytes.length) {
    const [key, afterKey] = readVarint(bytes, offset);
    const [fieldNumber, wireType] = [Math.floor(key / 8), key % 8];
    let value;
    if (wireType === 0) {
      [value, offset] = readVarint(bytes, afterKey);
    } else if (wireType === 2) {
      const [length, start] = readVarint(bytes, afterKey);
      value = bytes.subarray(start, start + length);
      offset = start + length;
    } else {
      throw new Error(`unexpected wire type ${wireType} in google.rpc.Status`);
    }
    (fields[fieldNumber] ??= []).push(value);
  }
  return fields;
}

/**
 * The field violations of a google.rpc.BadRequest in the grpc-status-details-bin trailer. The googleapis protos are
 * not part of linli's contract, so the few fields needed are decoded by number:
 * Status{details=3: Any{type_url=1, value=2}}, BadRequest{field_violations=1: {field=1, description=2}}.
 */
function fieldViolations(error) {
  const raw = error.metadata?.get("grpc-status-details-bin")?.[0];
  if (!raw) return [];
  const text = (bytes) => Buffer.from(bytes).toString("utf8");
  const violations = [];
  for (const detail of decodeFields(raw)[3] ?? []) {
    const any = decodeFields(detail);
    if (!text(any[1][0]).endsWith("/google.rpc.BadRequest")) continue;
    for (const violation of decodeFields(any[2][0])[1] ?? []) {
      const parts = decodeFields(violation);
      violations.push({ field: text(parts[1]?.[0] ?? []), description: text(parts[2]?.[0] ?? []) });
    }
  }
  return violations;
}

/** Runs a call that must fail and reports its status code name and field violations. */
async function expectError(client, method, request, token = "") {
  try {
    await call(client, method, request, token);
  } catch (error) {
    if (typeof error.code !== "number") throw error;
    return { code: grpc.status[error.code], message: error.details, violations: fieldViolations(error) };
  }
  throw new Error(`${method} succeeded but the contract says it must fail`);
}

async function probeRetrieval(linli, target, args) {
  const client = new linli.RetrievalService(target, grpc.credentials.createInsecure());
  try {
    const token = args["service-token"];
    const stats = await call(client, "GetIndexStats", {}, token);
    const search = await call(
      client,
      "SearchCases",
      { text: args.text, k: 3, filter: { resolved_only: true } },
      token,
    );
    return {
      stats: { case_count: stats.case_count, dimension: stats.dimension, model: stats.model },
      search: {
        model: search.model,
        results: search.results.map((hit) => ({ id: hit.case.id, party: hit.case.party, score: hit.score })),
      },
      bad_k: await expectError(client, "SearchCases", { text: args.text, k: 0 }, token),
      anonymous: await expectError(client, "GetIndexStats", {}),
    };
  } finally {
    client.close();
  }
}

async function probeRouting(linli, target, args) {
  const client = new linli.RoutingService(target, grpc.credentials.createInsecure());
  try {
    const complaint = { text: args.text, community: args.community };
    const { decision } = await call(client, "Route", { complaint }, args["service-token"]);
    return {
      party: decision.party,
      confidence: decision.confidence,
      abstained: decision.abstained,
      deciding_signal: decision.rationale?.deciding_signal ?? null,
      alternatives: decision.alternatives.map((score) => ({ party: score.party, probability: score.probability })),
      similar_case_ids: decision.similar_cases.map((hit) => hit.case.id),
    };
  } finally {
    client.close();
  }
}

async function probeIntake(linli, target, args) {
  const client = new linli.IntakeService(target, grpc.credentials.createInsecure());
  const submission = {
    text: args.text,
    community: args.community,
    resident_id: args.resident,
    idempotency_key: `node-${process.pid}-${Date.now()}`,
  };
  try {
    const first = await call(client, "SubmitTicket", submission, args.token);
    const retried = await call(client, "SubmitTicket", submission, args.token);
    const { ticket } = await call(client, "GetTicket", { ticket_id: first.ticket.id }, args.token);
    return {
      submitted: { id: first.ticket.id, created: first.created, status: first.ticket.status },
      retried: { id: retried.ticket.id, created: retried.created },
      fetched: {
        id: ticket.id,
        text: ticket.text,
        community: ticket.community,
        resident_id: ticket.resident_id,
        status: ticket.status,
        created_at_seconds: ticket.created_at?.seconds ?? null,
        event_kinds: ticket.events.map((event) => event.kind),
      },
      missing: await expectError(client, "GetTicket", { ticket_id: "no-such-ticket" }, args.token),
      anonymous: await expectError(client, "GetTicket", { ticket_id: first.ticket.id }),
    };
  } finally {
    client.close();
  }
}

async function main() {
  let args;
  try {
    ({ values: args } = parseArgs({ options: OPTIONS, strict: true }));
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  if (!args.protos || !(args.retrieval || args.routing || args.intake)) {
    process.stderr.write("usage: interop_client.mjs --protos DIR [--retrieval T] [--routing T] [--intake T]\n");
    return 2;
  }
  const linli = loadLinli(resolve(args.protos));
  const report = {};
  if (args.retrieval) report.retrieval = await probeRetrieval(linli, args.retrieval, args);
  if (args.routing) report.routing = await probeRouting(linli, args.routing, args);
  if (args.intake) report.intake = await probeIntake(linli, args.intake, args);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
