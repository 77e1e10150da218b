#!/usr/bin/env node
// Writes docs/errors.md from the core's code table and the built-in kinds' (run `npm run build` first).
import { writeFileSync } from 'node:fs';
import { renderErrorsDoc } from '../dist/src/errors/errors-doc.js';
import { loadBuiltinKinds } from '../dist/services/index.js';

const kinds = [...(await loadBuiltinKinds())].filter(([, kind]) => kind.errors).map(([name, kind]) => ({ name, codes: kind.errors }));
writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc(kinds));
