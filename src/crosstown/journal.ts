import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';

/** One durable task: what to run, with which data, since when, and how often it was tried. */
export interface JournalEntry {
  id: string;
  pool: 'thread' | 'process';
  file: string;
  exportName: string;
  data: unknown;
  /** The task name for logs, e.g. tasks.mjs#resize. */
  name: string;
  /** When it was first queued, epoch ms. */
  at: number;
  attempts: number;
}

/** The journal's file inside its folder. */
export const JOURNAL_FILE = 'journal.jsonl';

/** Above this many bytes, a journal with nothing pending is truncated to empty while running. */
const TRUNCATE_BYTES = 1 << 20;

/**
 * An append-only log of durable tasks, one JSON object a line: `{"op":"add",...entry}` when a
 * task is queued, `{"op":"done","id"}` when it is over. Appends are synchronous writes on an
 * O_APPEND descriptor, so an entry is in the file (the OS's page cache) before the response that
 * queued it is released: it survives SIGKILL and OOM of the process, not a power cut.
 */
export class Journal {
  /** The journal file. */
  readonly file: string;
  readonly #log: Logger;
  readonly #pending: readonly JournalEntry[];
  /** The open file, shared by every runtime of this process that uses it. */
  readonly #file: OpenJournal;
  #closed = false;

  private constructor(file: string, log: Logger, pending: JournalEntry[], open: OpenJournal) {
    this.file = file;
    this.#log = log;
    this.#pending = pending;
    this.#file = open;
  }

  /**
   * Opens (or creates) the journal in `dir`: reads the entries left unfinished by the last run,
   * rewrites the file with only those (atomically: temporary file, then rename), and opens it
   * for appends. Each entry found unfinished has its `attempts` raised by one, and that count is
   * kept in the rewritten file, so a task that kills the process every time it runs can be told
   * apart and given up on.
   */
  static open(dir: string, log: Logger, name: string = JOURNAL_FILE): Journal {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, name);
    const shared = openJournals.get(file);
    if (shared !== undefined) {
      // a second runtime on the same file in this process (a replaced http service while its old
      // instance drains): it shares the open file and replays nothing, for the first one is
      // running those tasks; what is left when both have closed is replayed at the next start
      shared.users++;
      return new Journal(file, log, [], shared);
    }
    const pending = existsSync(file) ? readPending(file, log) : [];
    for (const entry of pending) entry.attempts += 1;
    const text = pending.map((entry) => `${JSON.stringify({ op: 'add', ...entry })}\n`).join('');
    const tmp = `${file}.tmp`;
    const tmpFd = openSync(tmp, 'w');
    try {
      writeAll(tmpFd, text);
      fsyncSync(tmpFd);
    } finally {
      closeSync(tmpFd);
    }
    renameSync(tmp, file);
    const fd = openSync(file, 'a');
    if (pending.length) log.info({ file, pending: pending.length }, 'journal has unfinished tasks');
    const open: OpenJournal = { fd, bytes: Buffer.byteLength(text), live: new Set(pending.map((entry) => entry.id)), users: 1 };
    openJournals.set(file, open);
    return new Journal(file, log, pending, open);
  }

  /** The entries that were added and not done when the journal was opened, in order. */
  pending(): JournalEntry[] {
    return this.#pending.map((entry) => ({ ...entry }));
  }

  /** Records a queued task, synchronously; throws a TypeError when its data is not plain JSON. */
  append(entry: JournalEntry): void {
    const problem = jsonProblem(entry.data, 'data', false, new Set());
    if (problem) {
      throw new TypeError(
        `the data of ${entry.name} cannot be journaled: ${problem}; durable tasks take JSON data (strings, finite numbers, booleans, null, arrays and plain objects)`,
      );
    }
    if (this.#closed || this.#file.fd === undefined) throw new Error(`the journal ${this.file} is closed; ${entry.name} was not recorded`);
    this.#write({ op: 'add', ...entry });
    this.#file.live.add(entry.id);
  }

  /** Records that a task is over: it will not be replayed. */
  done(id: string): void {
    this.#finish(id, false);
  }

  /** Records that a task failed (again): like done(), for it is reported, not retried forever. */
  failed(id: string): void {
    this.#finish(id, true);
  }

  /** Closes the file; the journal is not usable afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const open = this.#file;
    if (--open.users > 0 || open.fd === undefined) return;
    closeSync(open.fd);
    open.fd = undefined;
    if (openJournals.get(this.file) === open) openJournals.delete(this.file);
  }

  #finish(id: string, failed: boolean): void {
    const open = this.#file;
    if (!open.live.has(id)) return; // unknown or already done: nothing to record
    if (this.#closed || open.fd === undefined) {
      // it stays unfinished in the file and is replayed at the next start
      this.#log.warn({ file: this.file, id }, 'journal closed; task end not recorded');
      return;
    }
    this.#write(failed ? { op: 'done', id, failed: true } : { op: 'done', id });
    open.live.delete(id);
    if (open.live.size === 0 && open.bytes > TRUNCATE_BYTES) {
      // nothing is pending, so an empty file says it all; O_APPEND writes continue at 0
      ftruncateSync(open.fd, 0);
      open.bytes = 0;
    }
  }

  #write(record: object): void {
    this.#file.bytes += writeAll(this.#file.fd as number, `${JSON.stringify(record)}\n`);
  }
}

/** A journal file open in this process, and how many runtimes use it. */
interface OpenJournal {
  fd: number | undefined;
  bytes: number;
  /** Ids added (or replayed) and not done yet, whichever runtime added them. */
  readonly live: Set<string>;
  users: number;
}

/** The journal files open in this process, by path. */
const openJournals = new Map<string, OpenJournal>();

function writeAll(fd: number, text: string): number {
  const buffer = Buffer.from(text);
  for (let offset = 0; offset < buffer.length; ) offset += writeSync(fd, buffer, offset);
  return buffer.length;
}

/** Reads the file and returns the entries added and not done, skipping lines it cannot read. */
function readPending(file: string, log: Logger): JournalEntry[] {
  const entries = new Map<string, JournalEntry>();
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((text, index) => {
    if (!text.trim()) return;
    const record = parseLine(text);
    if (!record) {
      log.warn({ file, line: index + 1 }, 'journal line skipped');
      return;
    }
    if (record.op === 'done') entries.delete(record.id);
    else if (!entries.has(record.id)) entries.set(record.id, record.entry);
  });
  return [...entries.values()];
}

type JournalRecord = { op: 'add'; id: string; entry: JournalEntry } | { op: 'done'; id: string };

function parseLine(text: string): JournalRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined; // corrupt, or the half-written last line of a killed process
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { op, id, pool, file, exportName, data, name, at, attempts } = value as Record<string, unknown>;
  if (typeof id !== 'string') return undefined;
  if (op === 'done') return { op, id };
  if (op !== 'add' || (pool !== 'thread' && pool !== 'process') || typeof file !== 'string' || typeof exportName !== 'string') return undefined;
  if (typeof name !== 'string' || typeof at !== 'number' || typeof attempts !== 'number') return undefined;
  return { op, id, entry: { id, pool, file, exportName, data, name, at, attempts } };
}

/** Says where `value` stops being JSON that reads back as itself, or undefined when it is. */
function jsonProblem(value: unknown, at: string, inArray: boolean, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${at} is ${value}`;
    case 'undefined':
      // a missing property reads back the same; in an array it would come back as null
      return inArray ? `${at} is undefined` : undefined;
    case 'object':
      break;
    default:
      return `${at} is a ${typeof value}`;
  }
  if (value === null) return undefined;
  if (seen.has(value)) return `${at} is circular`;
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const problem = jsonProblem(value[i], `${at}[${i}]`, true, seen);
        if (problem) return problem;
      }
      return undefined;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      return `${at} is a ${(value as object).constructor?.name ?? 'non-plain object'}`;
    }
    for (const [key, item] of Object.entries(value)) {
      const problem = jsonProblem(item, /^[A-Za-z_$][\w$]*$/.test(key) ? `${at}.${key}` : `${at}[${JSON.stringify(key)}]`, false, seen);
      if (problem) return problem;
    }
    return undefined;
  } finally {
    seen.delete(value);
  }
}
