#!/usr/bin/env node
// Bundles the CLI and the public API into dist/bundle/ (shared chunks, so both are one module
// graph). Start-up is a feature: zod alone is ~100 files (65 of them locales) and costs ~75 ms
// to load file by file; bundled and tree-shaken, the whole CLI loads in a fraction of that.
// Packages loaded lazily or that load files of their own stay external.
import { build } from 'esbuild';

await build({
  entryPoints: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  external: ['pino', 'pino-pretty', 'send'],
  // yaml is CommonJS inside: give the bundle a require() for Node built-ins
  banner: { js: "import { createRequire as __hendrixRequire } from 'node:module'; const require = __hendrixRequire(import.meta.url);" },
  logLevel: 'warning',
});
