// furl's Node.js runtime client. It speaks the Lambda Runtime API
// (2018-06-01) from AWS_LAMBDA_RUNTIME_API, loads the handler named by
// _HANDLER from LAMBDA_TASK_ROOT, and runs one event at a time, as the
// runtime in AWS's Node.js images does: async and callback handlers, ES
// modules and CommonJS, the context object, console lines with the
// request id, errors as {errorType, errorMessage, trace}, and response
// streaming through awslambda.streamifyResponse.

import http from "node:http";
import path from "node:path";
import fs from "node:fs";
import util from "node:util";
import { Writable } from "node:stream";
import { pathToFileURL, fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const [apiHost, apiPort] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
const clientFile = fileURLToPath(import.meta.url);
const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HIGH_WATER_MARK = Symbol.for("aws.lambda.runtime.handler.streaming.highWaterMark");
const HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response";

// --- console: one line per call, with the time, the request id and the level.
let currentRequestId = undefined;
const write = (s) => process.stdout.write(s);
for (const [name, level] of [["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"], ["debug", "DEBUG"], ["trace", "TRACE"]]) {
  console[name] = (...args) => {
    write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}\n`);
  };
}

// --- the Runtime API.
function request(method, urlPath, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: apiHost, port: apiPort, method, path: urlPath, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

const base = "/2018-06-01/runtime";

// On Lambda the function's code is in /var/task. The process sandbox runs it
// from a host directory (given, and as ES modules see it, resolved), which
// errors must not show; nor may they show this client's frames, which have
// no counterpart on Lambda, or the frames below them (a trace ends where the
// client called the user's code).
const hostRoots = [...new Set([taskRoot, realpath(taskRoot)])]
  .map((r) => r.replace(/\/+$/, "") + "/")
  .sort((a, b) => b.length - a.length);

function realpath(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

function lambdaPaths(s) {
  return hostRoots.reduce((out, root) => out.replaceAll(root, "/var/task/"), s);
}

function lambdaStack(stack) {
  const lines = stack.split("\n");
  const end = lines.findIndex((line) => /^\s+at /.test(line) && line.includes(clientFile));
  return (end < 0 ? lines : lines.slice(0, end)).map(lambdaPaths);
}

function errorBody(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || "Error",
      errorMessage: lambdaPaths(String(err.message)),
      trace: typeof err.stack === "string" ? lambdaStack(err.stack) : [],
    };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

// logged is an error as Lambda's runtime logs it: its type and message,
// and its stack as "stack".
function logged(err) {
  const { trace, ...rest } = errorBody(err);
  return JSON.stringify({ ...rest, stack: trace });
}

async function postJSON(urlPath, value, headers = {}) {
  const body = Buffer.from(JSON.stringify(value));
  return request("POST", urlPath, { headers: { "Content-Type": "application/json", "Content-Length": body.length, ...headers }, body });
}

// initError reports a failed init with the error's own type, as Lambda's
// runtime does for whatever the handler's module throws.
async function initError(err) {
  const body = errorBody(err);
  console.error(`Uncaught Exception \t${logged(err)}`);
  await postJSON(`${base}/init/error`, body, { "Lambda-Runtime-Function-Error-Type": body.errorType });
  process.exit(1);
}

// --- loading the handler: the runtime's own errors, named as Lambda names
// them (the name starts the first line of their trace).
class ImportModuleError extends Error {}
class UserCodeSyntaxError extends Error {}
class MalformedHandlerName extends Error {}
class HandlerNotFound extends Error {}
for (const c of [ImportModuleError, UserCodeSyntaxError, MalformedHandlerName, HandlerNotFound]) {
  c.prototype.name = `Runtime.${c.name}`;
}

// syntaxError words a handler's syntax error as AWS's runtime does
// ("SyntaxError: Unexpected token"), with the file and line at the top of
// its trace: Node says where for CommonJS, but not for an ES module, so
// node --check (which parses and runs nothing) is asked.
function syntaxError(err, file) {
  const wrapped = new UserCodeSyntaxError(`${err.name}: ${err.message}`);
  let where = typeof err.stack === "string" ? err.stack.split("\n")[0] : "";
  if (!/:\d+$/.test(where)) {
    const check = spawnSync(process.execPath, ["--check", file], { encoding: "utf8", timeout: 5000, maxBuffer: 1 << 20 });
    where = (check.stderr || "").split("\n")[0];
  }
  wrapped.stack = /:\d+$/.test(where) ? `${where}\n${wrapped.name}: ${wrapped.message}` : `${wrapped.name}: ${wrapped.message}`;
  return wrapped;
}

async function loadHandler() {
  const spec = process.env._HANDLER || "";
  const slash = spec.lastIndexOf("/");
  const dot = spec.indexOf(".", slash + 1);
  if (dot < 0) {
    await initError(new MalformedHandlerName(`Bad handler ${spec}: missing a dot between module and function`));
  }
  const moduleName = spec.slice(0, dot);
  const handlerPath = spec.slice(dot + 1);
  const base = path.resolve(taskRoot, moduleName);
  let file;
  for (const ext of [".js", ".mjs", ".cjs"]) {
    if (fs.existsSync(base + ext)) {
      file = base + ext;
      break;
    }
  }
  if (!file) {
    await initError(new ImportModuleError(`Error: Cannot find module '${moduleName}'`));
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    // Lambda names a syntax error and a CommonJS module that cannot be
    // found; anything else the module throws (an ES module's missing
    // package included) is reported as itself.
    if (err instanceof SyntaxError) await initError(syntaxError(err, file));
    if (err && err.code === "MODULE_NOT_FOUND") await initError(new ImportModuleError(`${err.name}: ${err.message}`));
    await initError(err);
  }
  let fn = handlerPath.split(".").reduce((o, k) => (o == null ? undefined : o[k]), mod);
  if (fn === undefined && mod.default != null) {
    fn = handlerPath.split(".").reduce((o, k) => (o == null ? undefined : o[k]), mod.default);
  }
  if (typeof fn !== "function") {
    await initError(new HandlerNotFound(`${spec} is undefined or not exported`));
  }
  return fn;
}

// --- awslambda: streaming responses.
class HttpResponseStream {
  static from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION);
    stream._prelude = Buffer.concat([Buffer.from(JSON.stringify(prelude)), Buffer.alloc(8)]);
    return stream;
  }
}
globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[STREAMING] = "response";
    if (options && options.highWaterMark) handler[HIGH_WATER_MARK] = options.highWaterMark;
    return handler;
  },
  HttpResponseStream,
};

// responseStream posts the response as a chunked stream that starts with
// the first write, and reports a failure in trailers.
function responseStream(requestId) {
  let req = null;
  let contentType = "application/octet-stream";
  let settled;
  const done = new Promise((resolve, reject) => (settled = { resolve, reject }));
  const open = () => {
    if (req) return req;
    req = http.request({
      host: apiHost, port: apiPort, method: "POST", agent,
      path: `${base}/invocation/${requestId}/response`,
      headers: {
        "Content-Type": contentType,
        "Lambda-Runtime-Function-Response-Mode": "streaming",
        "Transfer-Encoding": "chunked",
        Trailer: ["Lambda-Runtime-Function-Error-Type", "Lambda-Runtime-Function-Error-Body"],
      },
    }, (res) => {
      res.resume();
      res.on("end", () => settled.resolve(res.statusCode));
    });
    req.on("error", (e) => settled.reject(e));
    return req;
  };
  let failure = null;
  const stream = new Writable({
    highWaterMark: 16384,
    write(chunk, encoding, callback) {
      const r = open();
      if (stream._prelude) {
        r.write(stream._prelude);
        stream._prelude = null;
      }
      r.write(chunk, encoding, callback);
    },
    final(callback) {
      const r = open();
      if (failure) {
        // A failure ends the response with trailers, after what was written.
        const body = errorBody(failure);
        r.addTrailers({
          "Lambda-Runtime-Function-Error-Type": body.errorType,
          "Lambda-Runtime-Function-Error-Body": Buffer.from(JSON.stringify(body)).toString("base64"),
        });
      } else if (stream._prelude) {
        r.write(stream._prelude);
        stream._prelude = null;
      }
      r.end(callback);
    },
  });
  stream.setContentType = (ct) => {
    if (req) throw new Error("Cannot set content type after the stream has started");
    contentType = ct;
  };
  stream.fail = (err) => {
    if (failure) return;
    failure = err;
    if (!stream.writableEnded) stream.end();
    else if (req && !req.writableEnded) req.end(); // ended already: nothing more to say
  };
  stream.done = done.catch((e) => {
    console.error(`furl runtime client: streaming the response failed: ${e && e.stack ? e.stack : e}`);
  });
  return stream;
}

// --- running events.
function contextFor(headers, deadlineMs, requestId) {
  const cc = headers["lambda-runtime-client-context"];
  const ci = headers["lambda-runtime-cognito-identity"];
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: ci ? JSON.parse(ci) : undefined,
    clientContext: cc ? JSON.parse(cc) : undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  };
}

let current = null; // { requestId, settle } of the event being handled
let exiting = false; // a fatal error is being reported: take no more events

async function postResult(requestId, value) {
  const json = JSON.stringify(value === undefined ? null : value);
  const body = Buffer.from(json === undefined ? "null" : json);
  await request("POST", `${base}/invocation/${requestId}/response`, {
    headers: { "Content-Type": "application/json", "Content-Length": body.length },
    body,
  });
}

async function postError(requestId, err) {
  console.error(`Invoke Error \t${logged(err)}`);
  await postJSON(`${base}/invocation/${requestId}/error`, errorBody(err));
}

// Runtime holds the handler, which is called as its method so that the
// handler's frame reads "at Runtime.handler (…)", as on Lambda.
class Runtime {
  constructor(handler) {
    this.handler = handler;
  }
}

async function handleBuffered(runtime, event, context, requestId) {
  let posted;
  current.posted = new Promise((resolve) => (posted = resolve));
  const outcome = await new Promise((resolve) => {
    let settled = false;
    const settle = (err, value) => {
      if (!settled) {
        settled = true;
        resolve({ err, value });
      }
    };
    current.settle = settle;
    const callback = (err, value) => settle(err == null ? null : err, value);
    context.done = callback;
    context.succeed = (value) => settle(null, value);
    context.fail = (err) => settle(err == null ? new Error("handled") : err);
    try {
      const ret = runtime.handler(event, context, callback);
      if (ret && typeof ret.then === "function") {
        ret.then((v) => settle(null, v), (e) => settle(e == null ? new Error(String(e)) : e));
      } else if (runtime.handler.length < 3) {
        // A handler that is neither async nor takes a callback answers
        // null: Lambda ignores what it returns.
        settle(null, null);
      }
    } catch (err) {
      settle(err);
    }
  });
  try {
    if (outcome.err) await postError(requestId, outcome.err);
    else await postResult(requestId, outcome.value);
  } finally {
    posted();
  }
}

async function handleStreaming(runtime, event, context, requestId) {
  const stream = responseStream(requestId);
  current.settle = (err) => stream.fail(err);
  current.posted = stream.done;
  try {
    const ret = runtime.handler(event, stream, context);
    if (!ret || typeof ret.then !== "function") {
      throw new Error("Streaming does not support non-async handlers.");
    }
    await ret;
    if (!stream.writableEnded) {
      throw new Error("The response stream was not ended before the handler returned.");
    }
  } catch (err) {
    console.error(`Invoke Error \t${logged(err)}`);
    stream.fail(err);
  }
  await stream.done;
}

async function main() {
  const runtime = new Runtime(await loadHandler());
  const streaming = runtime.handler[STREAMING] === "response";
  for (;;) {
    if (exiting) return new Promise(() => {}); // fatal() exits the process
    const next = await request("GET", `${base}/invocation/next`);
    if (next.status !== 200) {
      throw new Error(`/next answered ${next.status}: ${next.body}`);
    }
    const requestId = next.headers["lambda-runtime-aws-request-id"];
    const deadlineMs = Number(next.headers["lambda-runtime-deadline-ms"]);
    const trace = next.headers["lambda-runtime-trace-id"];
    if (trace) process.env._X_AMZN_TRACE_ID = trace;
    else delete process.env._X_AMZN_TRACE_ID;
    currentRequestId = requestId;
    current = { requestId, settle: null, posted: null };
    const context = contextFor(next.headers, deadlineMs, requestId);
    let event;
    try {
      event = JSON.parse(next.body.toString("utf8") || "null");
    } catch (err) {
      await postError(requestId, err);
      continue;
    }
    if (streaming) await handleStreaming(runtime, event, context, requestId);
    else await handleBuffered(runtime, event, context, requestId);
    current = null;
  }
}

// An error nothing caught ends the invocation, and the runtime with it, as
// on Lambda.
async function fatal(err, type) {
  exiting = true;
  const c = current;
  if (c && c.settle) {
    let e = err;
    if (type === "Runtime.UnhandledPromiseRejection" || !(err instanceof Error)) {
      // Lambda reports a rejection as its own error type, with the reason.
      e = new Error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      e.name = type;
      if (err instanceof Error) e.stack = err.stack;
    }
    c.settle(e);
    await Promise.race([c.posted, new Promise((r) => setTimeout(r, 1000))]);
  } else {
    console.error(`${type}: ${err && err.stack ? lambdaStack(err.stack).join("\n") : err}`);
  }
  process.exit(129);
}
process.on("uncaughtException", (err) => fatal(err, "Runtime.UncaughtException"));
process.on("unhandledRejection", (reason) => fatal(reason, "Runtime.UnhandledPromiseRejection"));

main().catch((err) => {
  console.error(`furl runtime client: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
