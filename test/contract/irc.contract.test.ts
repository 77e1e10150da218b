import { describe } from 'vitest';
import { ircKind } from '../../services/irc/kind.js';
import type { IrcHandle } from '../../services/irc/service.js';
import { Observer } from '../helpers/irc/test-harness.js';
import { startNgircd, type Ngircd } from '../helpers/ngircd.js';
import { needCommand } from '../helpers/system-command.js';
import { describeServiceContract } from '../../src/testing/index.js';

let server: Ngircd | undefined;
let observer: Observer | undefined;

function running(): { server: Ngircd; observer: Observer } {
  if (server === undefined || observer === undefined) throw new Error('the contract setup did not run');
  return { server, observer };
}

describe.runIf(needCommand('ngircd'))('irc kind against ngircd', () => {
  describeServiceContract({
    kind: ircKind,
    name: 'bot',
    async setup() {
      server = await startNgircd({ channels: [{ name: '#locked', modes: ['+k s3cret'] }] });
      // the observer connects before any resource baseline, and runs no ping timers of its own
      observer = await Observer.connect(server.port, 'contractw', ['#contract']);
    },
    async teardown() {
      await observer?.close();
      await server?.stop();
    },
    goodConfig: () => ({ server: running().server.server, nick: 'contract', channels: ['#contract'], quitTimeout: '1s' }),
    // validates, connects and registers, then the channel refuses the key
    failingConfig: async () => ({ server: running().server.server, nick: 'refused', channels: [{ name: '#locked', key: 'wrong' }] }),
    failingCode: 'HX_ERR_IRC_JOIN',
    async probe(service, address) {
      // ready means in the channel: the server's own member list, asked by another client
      const handle = service.handle?.() as IrcHandle;
      const nick = handle.nick;
      if (nick === undefined || !handle.connected) throw new Error(`the bot at ${address ?? '?'} is not connected`);
      const names = await running().observer.names('#contract');
      if (!names.includes(nick)) throw new Error(`${nick} is not in #contract (members: ${names.join(' ')})`);
    },
  });
});
