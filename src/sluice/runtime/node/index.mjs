// Sluice's Node.js runtime client: the loop a Lambda Node runtime runs inside an execution
// environment, against the Runtime API of the environment (AWS_LAMBDA_RUNTIME_API).
//
// Ours rather than AWS's aws-lambda-ric npm package: that one builds a C++ library with
// node-gyp at install time (slow, and fragile offline). This is plain JavaScript with no
// dependencies and no build step; it follows the behaviour of Lambda's Node runtimes (handler
// loading, context, callbacks, log lines, error documents), not their code.
//
// Started as `node index.mjs` with the working directory at the task root and the variables
// Lambda sets (_HANDLER, LAMBDA_TASK_ROOT, AWS_LAMBDA_*...).

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

import { patchConsole, logError, setRequestId } from './logging.mjs';

const require = createRequire(import.meta.url);
const API_PREFIX = '/2018-06-01/runtime';
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';

// Lambda's runtime error classes: their names are the errorType of the error document.
class RuntimeError extends Error {}
function runtimeError(name) {
  const cls = class extends RuntimeError {};
  Object.defineProperty(cls, 'name', { value: name });
  cls.prototype.name = `Runtime.${name}`;
  return cls;
}
const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
const UnhandledPromiseRejection = runtimeError('UnhandledPromiseRejection');
const NodeJsExit = runtimeError('NodeJsExit');
const JSONStringifyError = runtimeError('JSONStringifyError');
// Lambda's words for an async handler whose promise is still pending when nothing is left to run.
const NODE_JS_EXIT_MESSAGE =
  'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a ' +
  'Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes';

// ------------------------------------------------------------------ error documents

function isErrorLike(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    typeof value.stack === 'string'
  );
}

/** {errorType, errorMessage, trace}: what the Node runtime posts for a failed invocation. */
function errorDocument(error) {
  try {
    if (error instanceof Error || isErrorLike(error)) {
      return { errorType: error.name, errorMessage: error.message, trace: error.stack.split('\n') };
    }
    // callback('text') or a rejected non-Error: the type is the JavaScript type, as on AWS.
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

// ------------------------------------------------------------------ Runtime API

class RuntimeApi {
  constructor(address) {
    const [host, port] = address.split(':');
    this.host = host;
    this.port = Number(port);
    // One kept-alive connection. The agent unrefs it while idle, so it never holds the event
    // loop open and callbackWaitsForEmptyEventLoop sees only the handler's own work.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  request(method, urlPath, body, headers) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: this.host, port: this.port, method, path: API_PREFIX + urlPath, agent: this.agent, headers },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  next() {
    return this.request('GET', '/invocation/next');
  }

  post(urlPath, text, extraHeaders = {}) {
    const body = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
    return this.request('POST', urlPath, body, {
      'Content-Type': 'application/json',
      'Content-Length': body.length,
      ...extraHeaders,
    });
  }

  respond(id, result) {
    return this.post(`/invocation/${encodeURIComponent(id)}/response`, serialize(result));
  }

  fail(id, error) {
    const doc = errorDocument(error);
    return this.post(`/invocation/${encodeURIComponent(id)}/error`, serialize(doc), {
      [ERROR_TYPE_HEADER]: doc.errorType,
    });
  }

  initError(error) {
    const doc = errorDocument(error);
    return this.post('/init/error', serialize(doc), { [ERROR_TYPE_HEADER]: doc.errorType });
  }
}

function serialize(value) {
  try {
    return JSON.stringify(value === undefined ? null : value);
  } catch {
    throw new JSONStringifyError('Unable to stringify response body');
  }
}

// ------------------------------------------------------------------ handler loading

function hasTypeModule(folder) {
  // The nearest package.json decides; a node_modules folder or the root ends the search.
  for (let dir = folder; ; dir = path.dirname(dir)) {
    if (dir.endsWith('/node_modules')) return false;
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, 'utf8'))?.type === 'module';
      } catch (e) {
        console.warn(`${manifest} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    if (dir === path.dirname(dir)) return false;
  }
}

let esmPathsRegistered = false;

async function importFile(file) {
  if (!esmPathsRegistered) {
    // ES modules ignore NODE_PATH; Lambda's Node runtimes still let them import packages from
    // layers and the runtime's SDK. A resolve hook falling back to those folders does that.
    esmPathsRegistered = true;
    const mod = await import('node:module');
    if (typeof mod.register === 'function') {
      const folders = (process.env.NODE_PATH || '').split(':').filter((p) => p.endsWith('/node_modules'));
      mod.register('./esm-paths.mjs', import.meta.url, { data: { folders } });
    }
  }
  return import(pathToFileURL(file).href);
}

function requireFile(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function loadModule(appRoot, moduleRoot, name) {
  const base = path.resolve(appRoot, moduleRoot, name);
  const extensionless = requireFile(base);
  if (extensionless) return extensionless;
  const esm = hasTypeModule(path.dirname(base));
  if (!esm) {
    const cjs = requireFile(`${base}.js`);
    if (cjs) return cjs;
  }
  if (esm && fs.existsSync(`${base}.js`)) return importFile(`${base}.js`);
  if (fs.existsSync(`${base}.mjs`)) return importFile(`${base}.mjs`);
  const cjs = requireFile(`${base}.cjs`);
  if (cjs) return cjs;
  // Last, Node's own resolution (a package name, a folder with an index.js...).
  return require(require.resolve(name, { paths: [appRoot, moduleRoot] }));
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const moduleAndHandler = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(moduleAndHandler));
  const match = /^([^.]*)\.(.*)$/.exec(moduleAndHandler);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, name, handlerPath] = match;
  let app;
  try {
    app = await loadModule(appRoot, moduleRoot, name);
  } catch (e) {
    if (e instanceof SyntaxError) {
      const error = new UserCodeSyntaxError(String(e));
      error.stack = e.stack; // where the syntax error is, not where loading it failed
      throw error;
    }
    if (e?.code === 'MODULE_NOT_FOUND' || e?.code === 'ERR_MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
  const fn = handlerPath.split('.').reduce((obj, key) => obj && obj[key], app);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return fn;
}

// ------------------------------------------------------------------ invocations

// Run when the event loop empties: how callback handlers with callbackWaitsForEmptyEventLoop
// (the default) finish, and how a handler that never calls back is noticed.
let onLoopEmpty = null;
process.on('beforeExit', () => {
  const run = onLoopEmpty;
  onLoopEmpty = null;
  if (run) run();
});

function parseHeaderJson(value) {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

function buildContext(headers, requestId) {
  const env = process.env;
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  return {
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parseHeaderJson(headers['lambda-runtime-cognito-identity']),
    clientContext: parseHeaderJson(headers['lambda-runtime-client-context']),
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

class Runtime {
  constructor(api, handler) {
    this.api = api;
    this.handler = handler;
    this.isAsync = handler.constructor?.name === 'AsyncFunction';
    this.requestId = null; // the invocation an uncaught exception belongs to
  }

  schedule() {
    setImmediate(() => this.once().catch((err) => fatal(this.api, err, this.requestId)));
  }

  async once() {
    const { headers, body } = await this.api.next();
    const requestId = headers['lambda-runtime-aws-request-id'];
    this.requestId = requestId;
    setRequestId(requestId);
    if (headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
    else delete process.env._X_AMZN_TRACE_ID;

    let finished = false;
    let waitForEmptyLoop = true;
    const finish = (post) => {
      if (finished) return;
      finished = true;
      onLoopEmpty = null;
      this.requestId = null;
      post().then(
        () => this.schedule(),
        (err) => fatal(this.api, err, null),
      );
    };
    const succeed = (result) => {
      let text;
      try {
        text = serialize(result);
      } catch (err) {
        fail(err);
        return;
      }
      finish(() => this.api.post(`/invocation/${encodeURIComponent(requestId)}/response`, text));
    };
    const fail = (err) => {
      logError('Invoke Error', err);
      finish(() => this.api.fail(requestId, err));
    };
    const done = (err, result) => (err !== undefined && err !== null ? fail(err) : succeed(result));
    const callback = (err, result) => {
      if (err !== undefined && err !== null) return fail(err);
      if (!waitForEmptyLoop) return succeed(result);
      // Lambda answers once the handler's pending work (timers, sockets) is done.
      onLoopEmpty = () => setImmediate(() => succeed(result));
    };

    const context = buildContext(headers, requestId);
    Object.defineProperty(context, 'callbackWaitsForEmptyEventLoop', {
      get: () => waitForEmptyLoop,
      set: (value) => {
        waitForEmptyLoop = value;
      },
      enumerable: true,
    });
    context.succeed = (result) => done(null, result);
    context.fail = (err) => done(err === undefined || err === null ? 'handled' : err);
    context.done = done;

    // Neither returned a promise nor called back before the loop emptied.
    onLoopEmpty = () => {
      if (this.isAsync) {
        fail(new NodeJsExit(NODE_JS_EXIT_MESSAGE));
      } else {
        succeed(null);
      }
    };

    let event;
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch (err) {
      fail(err);
      return;
    }
    if (this.handler[STREAMING]) {
      this.stream(event, context, requestId, finish, fail);
      return;
    }
    try {
      const result = this.handler(event, context, callback);
      if (result && typeof result.then === 'function') result.then(context.succeed, context.fail);
    } catch (err) {
      callback(err);
    }
  }
}

/** A handler wrapped in awslambda.streamifyResponse, invoked by a plain Invoke: Lambda buffers what
 * it writes and answers with those bytes once the stream has ended, as Sluice does here. */
Runtime.prototype.stream = function stream(event, context, requestId, finish, fail) {
  const chunks = [];
  const responseStream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  responseStream.setContentType = () => {};
  onLoopEmpty = null;
  Promise.resolve()
    .then(() => this.handler(event, responseStream, context))
    .then(() => {
      if (!responseStream.writableFinished) throw new Error('Response stream is not finished.');
      const body = Buffer.concat(chunks);
      finish(() => this.api.post(`/invocation/${encodeURIComponent(requestId)}/response`, body));
    })
    .catch(fail);
};

/** An error that escaped the handler: report it, then end the process as Lambda's runtime does. */
function fatal(api, error, requestId, code = 129) {
  const post = requestId ? api.fail(requestId, error) : api.initError(error);
  post.then(
    () => process.exit(code),
    () => process.exit(code),
  );
}

/** A nodejs22.x function on an older node (or the reverse) is said in its log, where it is seen. */
function warnAboutVersion() {
  const wanted = /^AWS_Lambda_nodejs(\d+)\.x$/.exec(process.env.AWS_EXECUTION_ENV || '')?.[1];
  const running = process.versions.node.split('.')[0];
  if (wanted && wanted !== running) {
    process.stdout.write(
      `SLUICE_NOTE this nodejs${wanted}.x function runs on Node.js v${process.versions.node}, the only node this ` +
        `machine offers (no node${wanted} on PATH); behaviour that differs between the two versions will differ here.\n`,
    );
  }
}

async function main() {
  warnAboutVersion();
  patchConsole();
  const api = new RuntimeApi(process.env.AWS_LAMBDA_RUNTIME_API);
  const handlerName = process.env._HANDLER || '';
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let runtime = null;

  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    fatal(api, error, runtime?.requestId, 129);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(String(reason));
    error.reason = reason;
    error.promise = promise;
    logError('Unhandled Promise Rejection', error);
    fatal(api, error, runtime?.requestId, 128);
  });

  // Lambda's Node runtimes define this global before loading the handler.
  globalThis.awslambda = {
    streamifyResponse: (handler) => Object.assign(handler, { [STREAMING]: true }),
    // The status and headers prelude is for function URLs; an Invoke answers with the body alone.
    HttpResponseStream: { from: (stream) => stream },
  };
  const handler = await loadHandler(appRoot, handlerName);
  runtime = new Runtime(api, handler);
  runtime.schedule();
}

main().catch((err) => {
  // Load failures: the Node runtime logs them as an uncaught exception and reports an init error.
  logError('Uncaught Exception', err);
  fatal(new RuntimeApi(process.env.AWS_LAMBDA_RUNTIME_API), err, null, 129);
});

export { errorDocument, RuntimeError };
