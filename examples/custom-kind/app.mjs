export default (req, res) => res.end('web\n');
