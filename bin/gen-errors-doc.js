#!/usr/bin/env node
// Writes docs/errors.md from the code table (run `npm run build` first).
import { writeFileSync } from 'node:fs';
import { renderErrorsDoc } from '../dist/src/errors/errors-doc.js';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc());
