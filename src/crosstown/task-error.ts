/**
 * Errors that cross a thread or process boundary, and the codes of the pools' own failures.
 *
 * worker-entry.mjs holds a copy of serializeError(): it runs as plain JavaScript and cannot
 * import this file. Keep the two in step (task-error.test.ts compares them).
 */

/** The `code` of every error the pools raise themselves (task errors keep their own code). */
export const TASK_ERROR_CODES = {
  /** The task ran longer than its timeout; its worker was stopped and is replaced. */
  timeout: 'HX_TASK_TIMEOUT',
  /** The worker or child running the task exited (process.exit, uncaught error, OOM, signal). */
  crashed: 'HX_TASK_CRASHED',
  /** The pool was destroyed while the task ran. */
  destroyed: 'HX_TASK_DESTROYED',
  /** run() after close() or destroy(). */
  closed: 'HX_TASK_POOL_CLOSED',
  /** run() while available() was 0: the caller's queue should have waited. */
  full: 'HX_TASK_POOL_FULL',
  /** The task's data (or its result) cannot be sent between threads or processes. */
  data: 'HX_TASK_DATA',
  /** The module has no such export, or it is not a function. */
  noExport: 'HX_TASK_NO_EXPORT',
} as const;

/** One of TASK_ERROR_CODES. */
export type TaskErrorCode = (typeof TASK_ERROR_CODES)[keyof typeof TASK_ERROR_CODES];

/** An error as it travels in a message: name, message, stack, cause and its own enumerable props. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  cause?: unknown;
  [prop: string]: unknown;
}

const CLASSES: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** Creates a pool error: a plain Error with one of TASK_ERROR_CODES and optional details. */
export function taskError(code: TaskErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown): Error {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  return Object.assign(error, { code }, details);
}

/** Turns a thrown value into a message-safe object (the parent-side twin of the runner's copy). */
export function serializeError(thrown: unknown, depth = 0): SerializedError {
  if (!(thrown instanceof Error)) {
    return { name: 'Error', message: `task threw a non-error value: ${describe(thrown)}`, ...cloneable({ thrown }) };
  }
  const out: SerializedError = { name: thrown.name, message: thrown.message };
  if (typeof thrown.stack === 'string') out.stack = thrown.stack;
  for (const [key, value] of Object.entries(thrown)) {
    if (key !== 'name' && key !== 'message' && key !== 'stack' && key !== 'cause') Object.assign(out, cloneable({ [key]: value }));
  }
  if (thrown.cause !== undefined && depth < 5) {
    out.cause = thrown.cause instanceof Error ? serializeError(thrown.cause, depth + 1) : cloneable({ c: thrown.cause }).c;
  }
  return out;
}

/**
 * Rebuilds a real Error from a serialized one: the class by name (unknown names keep their name
 * on a plain Error), the remote message and stack, the cause and every other property.
 */
export function toError(serialized: unknown): Error {
  if (serialized instanceof Error) return serialized;
  if (!isSerializedError(serialized)) return new Error(`task failed with a non-error value: ${describe(serialized)}`);
  const { name, message, stack, cause, ...props } = serialized;
  const Class = CLASSES[name] ?? Error;
  const error = new Class(message, cause === undefined ? undefined : { cause: isSerializedError(cause) ? toError(cause) : cause });
  if (error.name !== name) error.name = name;
  if (stack !== undefined) error.stack = stack;
  return Object.assign(error, props);
}

function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null) return false;
  const { name, message, stack } = value as Record<string, unknown>;
  return typeof name === 'string' && typeof message === 'string' && (stack === undefined || typeof stack === 'string');
}

/** Keeps only the properties that survive structured cloning (a function or a socket would not). */
function cloneable(props: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
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

function describe(value: unknown): string {
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
