import { fork } from 'node:child_process';
import type { Logger } from '../log/logger.js';
import { runnerPath } from './locate-runner.js';
import { createPoolOf, type TaskPool, type WorkerExit, type WorkerReply } from './pool-types.js';

/**
 * Creates a pool of `size` child processes running worker-entry.mjs, forked on first use and
 * reused; a child that dies is replaced on the next task. Messages use v8 serialization, so
 * Dates, Maps, Sets, typed arrays and Errors arrive intact. Idle children never keep the parent
 * alive, and a child whose parent is gone exits.
 */
export function createProcessPool(options: { size: number; log: Logger }): TaskPool {
  return createPoolOf('process', options.size, options.log, (onReply, onExit) => {
    const child = fork(runnerPath(), [], {
      // not the parent's flags: a test runner's loaders or an inspector port do not belong here
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let exit: WorkerExit | undefined;
    let ended = false;
    const end = (): void => {
      if (ended || !exit) return;
      ended = true;
      onExit(exit);
    };
    child.on('message', (reply: WorkerReply) => onReply(reply));
    // The end is reported once the child has exited and its channel is closed, so its last
    // message (a fatal error) comes first. Not 'close': after disconnect() it never fires.
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      if (!child.connected) end();
      else setTimeout(end, 1000).unref(); // the channel's end should be close behind
    });
    child.on('disconnect', end);
    child.on('error', (error) => {
      // a failed spawn has no 'exit' to wait for; other errors (a failed kill) are followed by one
      if (child.pid === undefined) {
        exit = { code: null, signal: null, error };
        end();
      }
    });
    const unref = (): void => {
      child.unref();
      child.channel?.unref();
    };
    unref();
    return {
      id: child.pid ?? 0,
      // transfer lists mean nothing across processes: the data is copied
      send: (message) => child.send(message),
      end: () => (child.connected ? child.disconnect() : child.kill('SIGKILL')),
      kill: () => child.kill('SIGKILL'),
      ref: () => {
        child.ref();
        child.channel?.ref();
      },
      unref,
    };
  });
}
