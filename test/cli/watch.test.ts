import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { watchedFiles, watchPlan, type PlanWatcher } from '../../src/cli/watch.js';
import { createPlan } from '../../src/runtime/plan.js';
import { testKinds } from '../helpers/kinds.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

const makeDir = useManifestDirs();
let watcher: PlanWatcher | undefined;
afterEach(() => watcher?.close());

const MANIFEST = 'services:\n  web:\n    kind: http\n    listen: 127.0.0.1:0\n    app: ./app.mjs\n    static: { /assets: ./public }\n';

describe('up --watch: the files of the plan', () => {
  it('watches the manifest, the .env files and the app with the modules it imports; not static folders', async () => {
    const dir = makeDir({ 'hendrix.yaml': MANIFEST, 'app.mjs': "import './lib.mjs';\nexport default (req, res) => res.end('x');\n", 'lib.mjs': 'export {};\n', 'public/a.txt': 'a' });
    const plan = await createPlan(['hendrix.yaml'], { kinds: testKinds, cwd: dir, environment: {} });
    expect([...watchedFiles(plan, 'staging')].sort()).toEqual(['.env', '.env.staging', 'app.mjs', 'hendrix.yaml', 'lib.mjs'].map((f) => join(dir, f)));
  });

  it('calls back once per burst of saves, with the files that changed; other files in the folders are ignored', async () => {
    const dir = makeDir({ 'hendrix.yaml': MANIFEST, 'app.mjs': "import './lib.mjs';\nexport default (req, res) => res.end('x');\n", 'lib.mjs': 'export {};\n', 'public/a.txt': 'a' });
    const plan = await createPlan(['hendrix.yaml'], { kinds: testKinds, cwd: dir, environment: {} });
    const calls: string[][] = [];
    let wake: () => void = () => {};
    watcher = watchPlan(plan, undefined, (files) => (calls.push(files), wake()), 100);
    const called = new Promise<void>((r) => (wake = r));
    writeFileSync(join(dir, 'notes.txt'), 'not watched');
    writeFileSync(join(dir, 'lib.mjs'), 'export const x = 1;\n');
    writeFileSync(join(dir, 'app.mjs'), "import './lib.mjs';\nexport default (req, res) => res.end('y');\n");
    await called;
    expect(calls).toHaveLength(1);
    expect(calls[0]!.sort()).toEqual([join(dir, 'app.mjs'), join(dir, 'lib.mjs')]);
  });
});
