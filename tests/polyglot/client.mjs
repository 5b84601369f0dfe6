// A quantmesh client in another language: Node.js with @grpc/grpc-js, the contracts loaded at
// run time from protos/ by @grpc/proto-loader, and Arrow chunks decoded with apache-arrow.
//
// Against a running mesh it: lists services by server reflection (grpc.reflection.v1alpha) and
// fetches one service's descriptor that way; checks health (grpc.health.v1) overall and per
// service; streams one symbol's bars from marketdata (GetBars) and decodes every Arrow IPC chunk
// on its own; asks for an unknown symbol and reads the error's status code and details trailer;
// scores one symbol with signal (Score); and sends (symbol, time) rows, re-encoded here as an
// Arrow IPC stream, to ScoreBatch. It prints one JSON object on stdout; the pytest driver
// (test_node_client.py) asserts on it. Exit status 1 (with {"error": ...}) when a step fails.
//
//   node tests/polyglot/client.mjs --target 127.0.0.1:50051 --symbol MSFT --model dow-direction

import { dirname, join, resolve } from "node:path";
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { tableFromIPC, tableToIPC } from "apache-arrow";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");
const CONTRACTS = join(ROOT, "protos");
const VENDORED = join(HERE, "protos");

const { values: args } = parseArgs({
  options: {
    target: { type: "string", default: "127.0.0.1:50051" },
    symbol: { type: "string", default: "MSFT" },
    model: { type: "string" },
    alias: { type: "string", default: "champion" },
    "batch-rows": { type: "string", default: "20" },
    "max-rows-per-chunk": { type: "string", default: "500" },
    "timeout-ms": { type: "string", default: "30000" },
  },
});

function protoFiles(root, folder = root) {
  const found = [];
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) found.push(...protoFiles(root, path));
    else if (name.endsWith(".proto")) found.push(path.slice(root.length + 1));
  }
  return found.sort();
}

// The well-known google/protobuf types (timestamp, any) ship with protobufjs; the mesh's own
// contracts import nothing else. health.proto and reflection.proto are vendored beside this file.
const definition = protoLoader.loadSync(
  [...protoFiles(CONTRACTS), ...protoFiles(VENDORED)],
  {
    includeDirs: [CONTRACTS, VENDORED],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  },
);
const loaded = grpc.loadPackageDefinition(definition);
const credentials = grpc.credentials.createInsecure();
const channelOptions = { "grpc.max_receive_message_length": 32 * 1024 * 1024 };
const client = (Service) => new Service(args.target, credentials, channelOptions);

const health = client(loaded.grpc.health.v1.Health);
const reflection = client(loaded.grpc.reflection.v1alpha.ServerReflection);
const marketdata = client(loaded.quantmesh.marketdata.v1.MarketDataService);
const signal = client(loaded.quantmesh.signal.v1.SignalService);

const deadline = () => new Date(Date.now() + Number(args["timeout-ms"]));

function unary(stub, method, request) {
  return new Promise((done, fail) => {
    stub[method](request, { deadline: deadline() }, (error, response) =>
      error ? fail(error) : done(response),
    );
  });
}

function serverStream(stub, method, request) {
  return new Promise((done, fail) => {
    const messages = [];
    const call = stub[method](request, { deadline: deadline() });
    call.on("data", (message) => messages.push(message));
    call.on("error", fail);
    call.on("end", () => done(messages));
  });
}

function reflect(requests) {
  return new Promise((done, fail) => {
    const responses = [];
    const call = reflection.ServerReflectionInfo({ deadline: deadline() });
    call.on("data", (message) => {
      responses.push(message);
      if (responses.length === requests.length) call.end();
    });
    call.on("error", fail);
    call.on("end", () => done(responses));
    for (const request of requests) call.write(request);
  });
}

function isoTime(timestamp) {
  const millis = Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1e6);
  return new Date(millis).toISOString();
}

function arrowTime(value) {
  // Timestamps come back as epoch milliseconds (numbers) from apache-arrow's row accessors.
  return new Date(Number(value)).toISOString();
}

function column(table, name) {
  // Row accessors (get), not toArray(): the latter gives the raw storage (microseconds).
  const vector = table.getChild(name);
  return Array.from({ length: vector.length }, (_, i) => vector.get(i));
}

function modelRef() {
  return { name: args.model, alias: args.alias };
}

async function listServices() {
  const [listed, described] = await reflect([
    { host: "", list_services: "*" },
    { host: "", file_containing_symbol: "quantmesh.signal.v1.SignalService" },
  ]);
  return {
    services: listed.list_services_response.service.map((s) => s.name).sort(),
    signal_descriptor_files: described.file_descriptor_response
      ? described.file_descriptor_response.file_descriptor_proto.length
      : 0,
  };
}

async function checkHealth(services) {
  const statuses = {};
  for (const service of ["", ...services]) {
    statuses[service] = (await unary(health, "Check", { service })).status;
  }
  return statuses;
}

async function streamBars() {
  const messages = await serverStream(marketdata, "GetBars", {
    symbols: [args.symbol],
    frequency: "FREQUENCY_DAILY",
    max_rows_per_chunk: Number(args["max-rows-per-chunk"]),
  });
  const tables = messages.map((m) => tableFromIPC(m.frame.ipc_stream));
  const declared = messages.reduce((sum, m) => sum + Number(m.frame.row_count), 0);
  const decoded = tables.reduce((sum, t) => sum + t.numRows, 0);
  let table = tables[0];
  for (const more of tables.slice(1)) table = table.concat(more);
  const times = table.getChild("time");
  return {
    table,
    report: {
      chunks: messages.length,
      chunk_indexes: messages.map((m) => m.frame.chunk_index),
      rows_decoded: decoded,
      rows_declared: declared,
      columns: table.schema.fields.map((f) => f.name),
      time_type: String(table.schema.fields.find((f) => f.name === "time").type),
      symbols: [...new Set(column(table, "symbol"))],
      first_time: arrowTime(times.get(0)),
      last_time: arrowTime(times.get(table.numRows - 1)),
    },
  };
}

async function unknownSymbol() {
  try {
    await serverStream(marketdata, "GetBars", {
      symbols: ["NO_SUCH_SYMBOL"],
      frequency: "FREQUENCY_DAILY",
    });
    return { code: "OK" };
  } catch (error) {
    return {
      code: grpc.status[error.code],
      has_status_details: error.metadata.get("grpc-status-details-bin").length > 0,
    };
  }
}

async function score() {
  const response = await unary(signal, "Score", { model: modelRef(), symbol: args.symbol });
  return {
    symbol: response.symbol,
    time: isoTime(response.time),
    score: response.score,
    model_name: response.model.name,
    model_version: Number(response.model.version),
    feature_version: response.model.feature_version,
  };
}

async function scoreBatch(bars) {
  // (symbol, time) keys only: the server reads the model's features for them. The rows stop a
  // few sessions before the last bar, inside the materialized feature version.
  const count = Number(args["batch-rows"]);
  const end = Math.max(0, bars.numRows - 5);
  const keys = bars.select(["symbol", "time"]).slice(Math.max(0, end - count), end);
  const response = await unary(signal, "ScoreBatch", {
    model: modelRef(),
    rows: { ipc_stream: Buffer.from(tableToIPC(keys, "stream")), row_count: keys.numRows },
  });
  const scores = tableFromIPC(response.scores.ipc_stream);
  const values = column(scores, "score").map(Number);
  const keyTimes = column(keys, "time").map(arrowTime);
  const scoredTimes = column(scores, "time").map(arrowTime);
  return {
    rows_sent: keys.numRows,
    rows_returned: scores.numRows,
    declared_rows: Number(response.scores.row_count),
    columns: scores.schema.fields.map((f) => f.name),
    same_order: keyTimes.every((t, i) => t === scoredTimes[i]),
    first_time: keyTimes[0],
    scores: values,
    scores_in_unit_interval: values.every((v) => v >= 0 && v <= 1),
    model_name: response.model_name,
    model_version: Number(response.model_version),
    feature_version: response.feature_version,
  };
}

async function main() {
  const result = { target: args.target };
  let step = "reflection";
  try {
    result.reflection = await listServices();
    step = "health";
    const ours = result.reflection.services.filter((s) => s.startsWith("quantmesh."));
    result.health = await checkHealth(ours);
    step = "bars";
    const bars = await streamBars();
    result.bars = bars.report;
    step = "not_found";
    result.not_found = await unknownSymbol();
    if (args.model) {
      step = "score";
      result.score = await score();
      step = "score_batch";
      result.score_batch = await scoreBatch(bars.table);
    }
  } catch (error) {
    result.error = {
      step,
      code: error.code === undefined ? null : grpc.status[error.code],
      message: String(error.details || error.message || error),
    };
    process.exitCode = 1;
  } finally {
    for (const stub of [health, reflection, marketdata, signal]) stub.close();
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}

await main();
