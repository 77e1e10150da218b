// One handler, four ways of doing its 20 ms of work (chosen by MODE), plus /done for the harness.
import { crosstown } from 'hendrix';
import { burn } from './work.mjs';

const mode = process.env.MODE;
let done = 0;
let queue;
if (mode === 'bullmq') {
  const { Queue } = await import('bullmq');
  queue = new Queue('crosstown-bench', { connection: { host: '127.0.0.1', port: Number(process.env.REDIS_PORT) } });
}

export default async function app(req, res) {
  if (req.url === '/done') {
    const count = queue ? (await queue.getJobCounts('completed')).completed : done;
    res.end(String(count));
    return;
  }
  if (mode === 'inline') {
    burn(20);
    done++;
  } else if (mode === 'loop') {
    crosstown(() => {
      burn(20);
      done++;
    });
  } else if (mode === 'thread') {
    crosstown.thread('./work.mjs#burn', 20).then(() => done++);
  } else if (mode === 'bullmq') {
    await queue.add('burn', { ms: 20 }, { removeOnComplete: false });
  } else {
    done++;
  }
  res.end('ok');
}
