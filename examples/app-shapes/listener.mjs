// Shape 1: a Node (req, res) listener (Express apps and Koa's app.callback() are this shape).
export default (req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end('node listener\n');
};
