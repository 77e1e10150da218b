// The handler both servers run: hello world.
export default function hello(req, res) {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello world\n');
}
