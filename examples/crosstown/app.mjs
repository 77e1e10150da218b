// A signup endpoint that answers at once and does its work after the response.
import { setTimeout as sleep } from 'node:timers/promises';
import { crosstown } from 'hendrix';

export default function app(req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname !== '/signup') {
    res.statusCode = 404;
    // skipped: the default skipStatus is ["4xx", "5xx"]
    crosstown(() => console.log('never printed'));
    res.end('try /signup?email=ada@example.com\n');
    return;
  }
  const email = url.searchParams.get('email') ?? 'someone@example.com';

  // on the event loop, once the response has been sent
  crosstown(async function sendWelcome() {
    await sleep(100); // an SMTP call, say
    console.log(`welcome mail sent to ${email}`);
  });

  // in a worker thread; the promise is there for the rare caller that wants the result
  crosstown.thread('./tasks.mjs#digest', email).then((hex) => console.log(`digest of ${email}: ${hex}`));

  // in a child process: heavy, or using a library that must not share the server's heap
  crosstown.process('./tasks.mjs#report', { email, at: Date.now() });

  res.statusCode = 201;
  res.end(`welcome, ${email}\n`);
}
