// The peer of bench/irc: the same relay written by hand with irc-framework and ws, as a bot
// without hendrix would be — subscribe to the hub over WebSocket, say each message in the
// channel. No flood control: irc-framework has none.
// Env: IRC_SERVER (host:port), HUB_URL (ws://...). Prints `ready` once joined and subscribed.
import irc from 'irc-framework';
import { WebSocket } from 'ws';

const [host, port] = process.env.IRC_SERVER.split(':');
const routes = { 'bare.lat': '#barelat', 'bare.rate': '#barerate' };
const client = new irc.Client();
client.connect({ host, port: Number(port), nick: 'barebot', username: 'bare', gecos: 'bare', auto_reconnect: false, account: {} });
await new Promise((resolve) => client.once('registered', resolve));
const channels = Object.values(routes);
let joined = 0;
await new Promise((resolve) => {
  client.on('join', (event) => {
    if (event.nick === client.user.nick && ++joined === channels.length) resolve();
  });
  for (const channel of channels) client.join(channel);
});
const ws = new WebSocket(process.env.HUB_URL);
await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
ws.on('message', (raw) => {
  const frame = JSON.parse(String(raw));
  if (frame.type === 'message') client.say(routes[frame.topic], typeof frame.data === 'string' ? frame.data : JSON.stringify(frame.data));
  else if (frame.type === 'ack' && frame.id === 'last') console.log('ready');
});
ws.send(JSON.stringify({ type: 'subscribe', topic: 'bare.lat', id: 'first' }));
ws.send(JSON.stringify({ type: 'subscribe', topic: 'bare.rate', id: 'last' }));
process.on('SIGTERM', () => {
  ws.close();
  client.quit('bench done');
  setTimeout(() => process.exit(0), 200);
});
