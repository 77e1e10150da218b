import type { CommonServiceConfig, ProvisionContext } from '../../src/kinds/contract.js';
import { loadCommandHandlers } from './commands-load.js';
import type { IrcConfig } from './schema.js';
import { readTlsCa } from './tls-ca.js';

/** The provision context of an `irc` service. */
type IrcProvisionContext = ProvisionContext<IrcConfig & CommonServiceConfig>;

/**
 * The plan-time checks of an `irc` service, through the code start uses: the `tls.ca` file
 * exists and holds a PEM certificate, the `commands` module exists and (unless the plan may not
 * import app code: `check --no-import`) imports with the shape of a commands module. That each
 * relay `hub:topic` names a pubsub service is the graph's check (typed references).
 */
export async function provisionIrc(ctx: IrcProvisionContext): Promise<void> {
  const { config } = ctx;
  const site = { name: ctx.name, baseDir: ctx.baseDir, locate: (path: readonly (string | number)[]) => ctx.locate(path) };
  const checks: Promise<void>[] = [];
  const ca = config.tls === false ? undefined : config.tls.ca;
  if (ca !== undefined) {
    checks.push(
      (async () => {
        const file = await ctx.need(ca, 'ca', ['tls', 'ca'], { code: 'HX_ERR_IRC_TLS', what: 'the CA `tls.ca`' });
        if (file !== undefined) await ctx.check(() => readTlsCa(site, file));
      })(),
    );
  }
  const commands = config.commands;
  if (commands !== undefined) {
    checks.push(
      (async () => {
        const file = await ctx.need(commands, 'commands', ['commands'], { code: 'HX_ERR_IRC_COMMANDS', what: 'the commands module `commands`' });
        if (file !== undefined && ctx.importModules) await ctx.check(() => loadCommandHandlers(site, file));
      })(),
    );
  }
  await Promise.all(checks);
}

