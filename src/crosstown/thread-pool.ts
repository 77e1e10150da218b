import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/logger.js';
import { runnerPath } from './locate-runner.js';
import { createPoolOf, type TaskPool, type WorkerReply } from './pool-types.js';

/**
 * Creates a pool of `size` worker threads running worker-entry.mjs, started on first use and
 * reused; a thread that dies is replaced on the next task. Idle threads never keep the process
 * alive.
 */
export function createThreadPool(options: { size: number; log: Logger }): TaskPool {
  return createPoolOf('thread', options.size, options.log, (onReply, onExit) => {
    const worker = new Worker(runnerPath());
    let uncaught: Error | undefined;
    worker.on('message', (reply: WorkerReply) => onReply(reply));
    // an uncaught error in the thread arrives here just before its 'exit'
    worker.on('error', (error) => (uncaught = error));
    worker.on('exit', (code) => onExit({ code, signal: null, ...(uncaught && { error: uncaught }) }));
    worker.unref();
    return {
      id: worker.threadId,
      send: (message, transfer) => worker.postMessage(message, transfer),
      // an idle thread holds no work worth finishing: terminating it is the graceful end
      end: () => void worker.terminate(),
      kill: () => void worker.terminate(),
      ref: () => worker.ref(),
      unref: () => worker.unref(),
    };
  });
}
