// The message-queue way: a separate worker process taking jobs from Redis.
import { Worker } from 'bullmq';
import { burn } from './work.mjs';

const worker = new Worker('crosstown-bench', async (job) => burn(job.data.ms), {
  connection: { host: '127.0.0.1', port: Number(process.env.REDIS_PORT) },
  concurrency: 1,
});
process.on('SIGTERM', () => worker.close().then(() => process.exit(0)));
