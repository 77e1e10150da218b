// bench/reload: the app hendrix serves (hendrix.yaml). run.mjs copies this file into its temp
// folder and rewrites the TEXT line before each reload: the text served says which version runs.
const TEXT = 'reload 0\n';

export default function hello(req, res) {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(TEXT);
}
