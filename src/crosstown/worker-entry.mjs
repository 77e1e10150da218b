// The runner of every crosstown pool: a worker thread (parentPort) or a forked child
// (process.send). Plain JavaScript on purpose: Node 20 cannot load TypeScript in a worker.
//
// In:  { id, file, exportName, data }       — call `exportName` of module `file` with `data`
// Out: { id, ok: true, value }               — what the export returned (or resolved to)
//      { id, ok: false, error }              — what it threw, serialized (see task-error.ts)
//      { fatal: error }                      — child only: an uncaught error, just before exit
import { parentPort } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { basename } from 'node:path';

/** Loaded task modules by file: each is imported once per worker. */
const modules = new Map();

const port = parentPort;
const post = port
  ? (message) => port.postMessage(message)
  : (message) => new Promise((resolve) => process.send(message, undefined, undefined, () => resolve()));

if (port) {
  port.on('message', onTask);
} else if (process.send) {
  process.on('message', onTask);
  // the parent went away (or closed the pool): nothing will ever ask this child again
  process.on('disconnect', () => process.exit(0));
  // mirror Node's default (exit on an uncaught error) but tell the parent why first
  const fatal = (error) => {
    try {
      process.send({ fatal: serializeError(error) }, undefined, undefined, () => process.exit(1));
    } catch {
      process.exit(1);
    }
    setTimeout(() => process.exit(1), 1000).unref();
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
} else {
  process.stderr.write('worker-entry.mjs is started by the crosstown pools, not by hand\n');
  process.exitCode = 64;
}

async function onTask(message) {
  const { id, file, exportName, data } = message;
  let reply;
  try {
    const fn = await load(file, exportName);
    reply = { id, ok: true, value: await fn(data) };
  } catch (error) {
    reply = { id, ok: false, error: serializeError(error) };
  }
  try {
    await post(reply);
  } catch (error) {
    // the result cannot be cloned (a function, a socket...): report that instead
    const cause = serializeError(error);
    const name = `${basename(file)}#${exportName}`;
    await post({ id, ok: false, error: { name: 'TypeError', message: `the result of ${name} cannot be sent back: ${cause.message}`, code: 'HX_TASK_DATA' } });
  }
}

async function load(file, exportName) {
  let loading = modules.get(file);
  if (!loading) {
    loading = import(file.startsWith('file:') ? file : pathToFileURL(file).href);
    modules.set(file, loading);
    // a module that failed to load may be fixed on disk: try again next time
    loading.catch(() => modules.delete(file));
  }
  const mod = await loading;
  const fn = exportName in mod ? mod[exportName] : mod.default?.[exportName];
  if (typeof fn !== 'function') {
    const what = fn === undefined ? 'has no export' : 'exports a non-function as';
    throw Object.assign(new TypeError(`${basename(file)} ${what} "${exportName}"`), { code: 'HX_TASK_NO_EXPORT' });
  }
  return fn;
}

// A copy of serializeError() in task-error.ts (this file cannot import TypeScript).
function serializeError(thrown, depth = 0) {
  if (!(thrown instanceof Error)) {
    return { name: 'Error', message: `task threw a non-error value: ${describe(thrown)}`, ...cloneable({ thrown }) };
  }
  const out = { name: thrown.name, message: thrown.message };
  if (typeof thrown.stack === 'string') out.stack = thrown.stack;
  for (const [key, value] of Object.entries(thrown)) {
    if (key !== 'name' && key !== 'message' && key !== 'stack' && key !== 'cause') Object.assign(out, cloneable({ [key]: value }));
  }
  if (thrown.cause !== undefined && depth < 5) {
    out.cause = thrown.cause instanceof Error ? serializeError(thrown.cause, depth + 1) : cloneable({ c: thrown.cause }).c;
  }
  return out;
}

function cloneable(props) {
  const out = {};
  for (const [key, value] of Object.entries(props)) {
    try {
      structuredClone(value);
      out[key] = value;
    } catch {
      out[key] = `[not cloneable: ${describe(value)}]`;
    }
  }
  return out;
}

function describe(value) {
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
