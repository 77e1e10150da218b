// The chat app: POST /join {"user":"ada"} answers 204 at once; after the response, crosstown
// publishes a welcome on chat.lobby through the hub's HTTP publish, on this same server. (The
// hub depends on `web` — it attaches to it — so the app reaches it over HTTP, not as a peer.)
import { crosstown } from 'hendrix';

const TOPIC = 'chat.lobby';

async function readJson(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 4096) throw new Error('body too large');
  }
  return JSON.parse(text);
}

export default async function app(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (req.method !== 'POST' || url.pathname !== '/join') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  let user;
  try {
    user = String((await readJson(req)).user ?? '').trim().slice(0, 32);
  } catch {
    user = '';
  }
  if (user === '') {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('send {"user":"your name"}\n');
    return;
  }
  // the address this request came in on is where the hub's HTTP publish is too
  const { localAddress, localPort } = req.socket;
  const host = localAddress.includes(':') ? `[${localAddress}]` : localAddress;
  crosstown(async function welcome() {
    const answer = await fetch(`http://${host}:${localPort}/hub/publish/${TOPIC}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'hendrix', text: `welcome, ${user}!` }),
    });
    if (answer.status !== 202) throw new Error(`welcome not published: ${answer.status} ${await answer.text()}`);
  });
  res.writeHead(204).end();
}
