import { toManifestJsonSchema } from '../manifest/json-schema.js';
import { parseCommandArgs } from './args.js';
import { HELP } from './help.js';
import type { CliIO } from './io.js';

/** `hendrix schema`: prints the JSON Schema of the manifest. */
export async function schemaCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('schema', argv, { help: { type: 'boolean', short: 'h' } });
  if (values.help) return io.stdout.write(`${HELP.schema}\n`), 0;
  io.stdout.write(`${JSON.stringify(toManifestJsonSchema(await io.kinds.loadAll()), null, 2)}\n`);
  return 0;
}
