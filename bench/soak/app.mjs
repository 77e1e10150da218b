// The soak's app: a few routes of different weight, and work after the response (crosstown).
//   GET /          a short text
//   POST /echo     reads the body, answers its length
//   GET /work      answers at once, then runs a small task in the thread pool
//   GET /slow      answers after 20-60 ms (requests in flight for a while)
import { crosstown } from 'hendrix';

export default async function app(req, res) {
  const url = req.url ?? '/';
  if (req.method === 'POST' && url === '/echo') {
    let bytes = 0;
    try {
      for await (const chunk of req) bytes += chunk.length;
    } catch {
      return; // the client went away mid-body
    }
    res.end(`${bytes}\n`);
    return;
  }
  if (url === '/work') {
    crosstown.thread('./tasks.mjs#checksum', { n: 2_000 });
    res.end('queued\n');
    return;
  }
  if (url === '/slow') {
    setTimeout(() => res.end('slow\n'), 20 + Math.floor(Math.random() * 40));
    return;
  }
  res.end('hello\n');
}
