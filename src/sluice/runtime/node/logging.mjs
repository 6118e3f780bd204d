// console.* as Lambda's Node runtimes patch it: every line carries its timestamp, the request
// id and the level, `<ISO time>\t<request id>\t<LEVEL>\t<message>`, or is a JSON record when the
// function's LogFormat is JSON (then AWS_LAMBDA_LOG_LEVEL filters it).
//
// When the platform gives a telemetry descriptor (_LAMBDA_TELEMETRY_LOG_FD), each message is one
// frame there, so a multi-line message stays one CloudWatch event; otherwise it goes to stdout
// with its newlines turned into carriage returns, as the Node runtime does.

import fs from 'node:fs';
import { format } from 'node:util';

const LEVELS = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };
// Frame header: 4 bytes type (magic a55a, then format and level), 4 bytes length, 8 bytes
// timestamp in microseconds, all big-endian.
const FRAME_TEXT = 0xa55a0003;
const FRAME_JSON = 0xa55a0002;

let requestId;
export function setRequestId(id) {
  requestId = id;
}

const jsonFormat = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
const minimum = jsonFormat ? LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || 'INFO').toUpperCase()] ?? LEVELS.INFO : 0;
const telemetryFd = (() => {
  const value = process.env._LAMBDA_TELEMETRY_LOG_FD;
  // The descriptor is the runtime's, not the handler's business: hidden as on AWS.
  delete process.env._LAMBDA_TELEMETRY_LOG_FD;
  const fd = Number.parseInt(value ?? '', 10);
  return Number.isInteger(fd) ? fd : null;
})();

function errorFields(error) {
  return {
    errorType: error?.constructor?.name ?? 'UnknownError',
    errorMessage: error.message,
    stackTrace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
  };
}

// An Error anywhere in a logged value becomes {errorType, errorMessage, stackTrace, ...its own fields}.
const errorReplacer = (_key, value) => (value instanceof Error ? { ...errorFields(value), ...value } : value);

/** As Lambda's Node runtime: one argument is the message as it is (objects stay objects); several
 * are formatted into one string, and the first Error among them lends its fields to the record. */
function jsonRecord(date, level, args) {
  const record = { timestamp: date.toISOString(), level, requestId };
  if (args.length === 1) {
    record.message = args[0];
    try {
      return JSON.stringify(record, errorReplacer);
    } catch {
      record.message = format(args[0]); // circular, BigInt...: its inspected text instead
      return JSON.stringify(record);
    }
  }
  record.message = format(...args);
  const error = args.find((arg) => arg instanceof Error);
  if (error) Object.assign(record, errorFields(error));
  return JSON.stringify(record);
}

function write(level, args) {
  if (LEVELS[level] < minimum) return;
  const date = new Date();
  const text = jsonFormat
    ? jsonRecord(date, level, args)
    : `${date.toISOString()}\t${requestId}\t${level}\t${format(...args)}`;
  if (telemetryFd === null) {
    process.stdout.write(`${text.replace(/\n/g, '\r')}\n`);
    return;
  }
  const message = Buffer.from(jsonFormat ? text : `${text}\n`, 'utf8');
  const header = Buffer.alloc(16);
  // The level rides in bits 2-4 of the type (TRACE 1 ... FATAL 6), as Lambda's runtimes frame it.
  header.writeUInt32BE(((jsonFormat ? FRAME_JSON : FRAME_TEXT) | ((LEVELS[level] + 1) << 2)) >>> 0, 0);
  header.writeUInt32BE(message.length, 4);
  header.writeBigInt64BE(BigInt(date.getTime()) * 1000n, 8);
  // Synchronous, as on Lambda: the line is out before the handler's next statement.
  fs.writeSync(telemetryFd, Buffer.concat([header, message]));
}

export function patchConsole() {
  console.log = (...args) => write('INFO', args);
  console.info = (...args) => write('INFO', args);
  console.debug = (...args) => write('DEBUG', args);
  console.warn = (...args) => write('WARN', args);
  console.error = (...args) => write('ERROR', args);
  console.trace = (...args) => write('TRACE', args);
  console.fatal = (...args) => write('FATAL', args);
}

/** How the runtime logs an error it reports: "Invoke Error \t{...}" in text, a record in JSON;
 * a thrown non-Error ('text', 42) is logged as an Error of that message. */
export function logError(label, error) {
  const asError = error instanceof Error ? error : new Error(error);
  if (jsonFormat) {
    write('ERROR', [asError]);
    return;
  }
  write('ERROR', [label, `\t${formatError(asError)}`]);
}

function formatError(error) {
  const replacer = (_key, value) => {
    if (!(value instanceof Error)) return value;
    const out = { errorType: value.name, errorMessage: value.message, code: value.code, ...value };
    if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
    return out;
  };
  try {
    return JSON.stringify(error, replacer);
  } catch {
    return JSON.stringify({ errorType: error?.name, errorMessage: String(error?.message ?? error) });
  }
}
