import cluster from 'node:cluster';
import type { PrimaryMessage, WorkerMessage } from '../workers/ipc.js';
import type { WorkerIdentity } from '../workers/ipc.js';
import { runWorker } from '../workers/worker-run.js';
import { manifestArgs, type CliIO } from './io.js';

/**
 * `hendrix up` in a worker process (forked by the primary, HENDRIX_WORKER set): runs the
 * services of its role and obeys the primary over IPC. Signals are ignored here: the primary
 * orders stops and reloads across processes (a terminal's ^C reaches the whole group).
 */
export async function upWorker(values: Parameters<typeof manifestArgs>[1], positionals: string[], io: CliIO, identity: WorkerIdentity): Promise<number> {
  const unsignal = io.onSignal(() => {});
  const unhangup = io.onHangup(() => {});
  const args = manifestArgs(io, values);
  // the last messages (start-failed, a reload's answer) must be out before the process exits
  let sent: Promise<void> = Promise.resolve();
  let leaving = false;
  // the primary may order a stop while this process still plans (a ^C during the start): its
  // messages wait here until the graph listens (and the primary holds them until the hello)
  let deliver: ((message: PrimaryMessage) => void) | undefined;
  const early: PrimaryMessage[] = [];
  const onMessage = (message: unknown): void => (deliver ? deliver(message as PrimaryMessage) : void early.push(message as PrimaryMessage));
  process.on('message', onMessage);
  process.send?.({ hx: 'hello' } satisfies WorkerMessage);
  try {
    return await runWorker({
      files: args.files,
      planOptions: args.options,
      selected: positionals,
      identity,
      isTTY: Boolean(io.stdout.isTTY),
      ipc: {
        send(message) {
          if (!process.connected || !process.send) return;
          sent = new Promise<void>((resolve) => void process.send!(message, undefined, {}, () => resolve()));
        },
        onMessage(listener) {
          deliver = listener;
          for (const message of early.splice(0)) listener(message);
        },
        onDisconnect(listener) {
          // node:cluster exits a worker at once with code 0 when its channel closes unasked
          // (the worker's 'disconnect' event comes first): marked as asked, the graph drains
          const worker = cluster.worker;
          const gone = (): void => {
            if (worker) worker.exitedAfterDisconnect = true;
            if (!leaving) listener();
          };
          if (worker) worker.once('disconnect', gone);
          else process.once('disconnect', gone);
        },
      },
    });
  } finally {
    process.off('message', onMessage);
    unsignal();
    unhangup();
    await sent;
    // the IPC channel keeps a process alive: let go of it once the graph stopped (as asked, so
    // that node:cluster does not exit with 0 before the CLI exits with the graph's code)
    leaving = true;
    if (cluster.worker) cluster.worker.exitedAfterDisconnect = true;
    if (process.connected) process.disconnect();
  }
}
