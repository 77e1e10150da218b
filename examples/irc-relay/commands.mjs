// The bot's commands: each export answers !<name> in #ops and in private messages.
// A handler gets (message, reply, ctx); a returned string is replied.

const started = Date.now();

/** !ping → pong */
export function ping() {
  return 'pong';
}

/** !uptime → how long the bot has been up */
export function uptime() {
  const s = Math.round((Date.now() - started) / 1000);
  return `up ${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
}

/** !alert <text> → publishes on alerts.irc through the hub (a peer: the relay makes it a dependency) */
export async function alert(message, reply, ctx) {
  if (message.argText === '') return 'usage: !alert <text>';
  const id = await ctx.peer('hub').publish('alerts.irc', { text: message.argText, by: message.nick });
  ctx.log.info({ id, by: message.nick }, 'alert published');
  return undefined; // the relay brings it back to #ops as [alerts.irc] <text>
}
