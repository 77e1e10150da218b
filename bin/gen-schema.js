#!/usr/bin/env node
// Writes schemas/hendrix.schema.json from the zod schemas (run `npm run build` first).
import { mkdirSync, writeFileSync } from 'node:fs';
import { toManifestJsonSchema } from '../dist/src/manifest/json-schema.js';
import { loadBuiltinKinds } from '../dist/services/index.js';

const target = new URL('../schemas/hendrix.schema.json', import.meta.url);
mkdirSync(new URL('.', target), { recursive: true });
writeFileSync(target, `${JSON.stringify(toManifestJsonSchema(await loadBuiltinKinds()), null, 2)}\n`);
