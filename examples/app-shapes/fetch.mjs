// Shape 2: an object with fetch(request) => Response (Hono-style); bodies stream both ways.
export default {
  async fetch(request) {
    if (request.method === 'POST') return new Response(request.body, { headers: { 'content-type': 'text/plain' } });
    return new Response('fetch handler\n', { headers: { 'content-type': 'text/plain' } });
  },
};
