// Shape 3: a factory (ctx) => listener | { fetch }, called once at start with the service context.
export function createApp(ctx) {
  ctx.log.info('factory called');
  let hits = 0;
  return { fetch: () => new Response(`factory #${++hits}\n`) };
}
