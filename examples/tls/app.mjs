// Says how the request arrived: over which protocol, and whether TLS carried it.
export default function app(req, res) {
  const tls = Boolean(req.socket.encrypted);
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`hello over HTTP/${req.httpVersion}${tls ? ' with TLS (' + req.socket.getProtocol() + ')' : ''}\n`);
}
