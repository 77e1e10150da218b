#!/usr/bin/env node
// Bundles the CLI and the public API into dist/bundle/ (shared chunks, so both are one module
// graph). Start-up is a feature: zod alone is ~100 files (65 of them locales) and costs ~75 ms
// to load file by file; bundled and tree-shaken, the whole CLI loads in a fraction of that.
// Packages loaded lazily or that load files of their own stay external.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

/** zod re-exports its 60+ locales from one index; the manifest speaks English, so keep only `en`. */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]/.test(args.importer) ? { path: args.importer, namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: new URL('../locales/', `file://${args.path}`).pathname,
    }));
  },
};

rmSync('dist/bundle', { recursive: true, force: true });
await build({
  entryPoints: { index: 'src/index.ts', cli: 'src/cli/main.ts', testing: 'src/testing/index.ts' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  plugins: [zodEnglishOnly],
  chunkNames: 'chunks/[name]-[hash]',
  // vitest: hendrix/testing runs inside the kind author's own test runner
  external: ['pino-pretty', 'send', 'acme-client', 'selfsigned', 'irc-framework', 'vitest'],
  // yaml is CommonJS inside: give the bundle a require() for Node built-ins
  banner: { js: "import { createRequire as __hendrixRequire } from 'node:module'; const require = __hendrixRequire(import.meta.url);" },
  logLevel: 'warning',
});
