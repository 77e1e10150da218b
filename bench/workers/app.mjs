// The handler every contender runs: hello world, as small as the issue names it, so that the
// figures measure serving and process layout, not the app.
export default function hello(req, res) {
  res.end('hello');
}
