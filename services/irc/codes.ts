import { defineErrorCodes } from '../../src/errors/codes.js';

/** The error codes of the `irc` kind: title, hint and exit code of each (docs/errors.md lists them). */
export const ircCodes = defineErrorCodes({
  HX_ERR_IRC_CONNECT: { title: 'cannot reach the IRC server', hint: 'check `server` (host:port) and that the server is up; start retries until startTimeout, and once ready the bot reconnects by itself (see `reconnect`)', exit: 1 },
  HX_ERR_IRC_REGISTER: { title: 'the IRC server refused to register the bot', hint: "check `password`, `sasl` and `nick` against the server's rules; its own reason is quoted in the message", exit: 1 },
  HX_ERR_IRC_JOIN: { title: 'an IRC channel refused the bot', hint: 'check the channel key (channels: [{ name, key }]), bans (+b), invite-only (+i) and the channel limit (+l)', exit: 1 },
  HX_ERR_IRC_COMMANDS: { title: 'IRC commands module cannot be loaded or has the wrong shape', hint: 'export one function per command, named after it (export function ping(message, reply, ctx) {...}), or a default object of them', exit: 1 },
  HX_ERR_IRC_COMMAND_FAILED: { title: 'IRC command handler failed', hint: "the handler's own error is the cause; the bot keeps running and told the sender the command failed", exit: 1 },
  HX_ERR_IRC_RELAY: { title: 'relay entry cannot be used', hint: 'write from/to as `<pubsub service>:<topic>` or a channel (#name) listed in `channels`; the service named must be of kind pubsub', exit: 1 },
  HX_ERR_IRC_RELAY_PUBLISH: { title: 'IRC line could not be published to the hub', hint: "the hub's own error (topic rules, the topic's schema) is the cause; the line was dropped, the bot keeps running", exit: 1 },
  HX_ERR_IRC_QUEUE_FULL: { title: 'IRC outgoing queue is full: lines dropped', hint: 'raise `flood.maxQueue` or the rate (`flood.burst`, `flood.interval`), or send less; the bot keeps running', exit: 1 },
  HX_ERR_IRC_RELAY_EXPIRED: { title: 'relayed IRC lines too old to send: dropped', hint: 'the bot was disconnected (or behind its flood rate) for longer than `relayMaxAge`; raise it if late lines still matter, or the rate (`flood.burst`, `flood.interval`); the bot keeps running', exit: 1 },
  HX_ERR_IRC_TLS: { title: 'TLS to the IRC server failed', hint: 'check `tls.ca` (a PEM file, relative to the manifest) for a private CA, and that the server certificate names the host of `server` (or set `tls.servername`)', exit: 1 },
});
