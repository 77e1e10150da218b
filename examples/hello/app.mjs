// A plain Node (req, res) listener: what http.createServer takes, Express and Koa's callback too.
export default function app(req, res) {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('hello from hendrix\n');
}
