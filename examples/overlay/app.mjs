// A fetch-style handler: takes a web Request, returns a Response.
export default {
  fetch(request) {
    const url = new URL(request.url);
    return Response.json({ path: url.pathname, greeting: process.env.GREETING ?? 'hello' });
  },
};
