// Tasks run by crosstown.thread() and crosstown.process(): plain exported functions.
import { createHash } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** CPU work that would block the event loop: many rounds of SHA-256. */
export function digest(text) {
  let hash = Buffer.from(text);
  for (let i = 0; i < 200_000; i++) hash = createHash('sha256').update(hash).digest();
  return hash.toString('hex');
}

/** Appends one line to var/signups.log beside this file. */
export async function report({ email, at }) {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'var', 'signups.log');
  await mkdir(dirname(file), { recursive: true });
  await appendFile(file, `${new Date(at).toISOString()} ${email} pid=${process.pid}\n`);
  return file;
}
