// The start-up peer: a Fastify 5 hello world started the same way.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/', (req, reply) => reply.type('text/plain').send('hello world\n'));
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
