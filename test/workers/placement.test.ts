import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isHendrixError } from '../../src/errors/hendrix-error.js';
import type { Service } from '../../src/kinds/contract.js';
import { createPlan, type Plan } from '../../src/runtime/plan.js';
import { placeServices, planForRole, runsOf } from '../../src/workers/placement.js';
import { testKinds } from '../helpers/kinds.js';

// Where services run when a graph has workers (src/workers/placement.ts), planned from real
// manifests with custom kinds in test/fixtures/workers: per-worker (`runs: 'each'`), once by
// default (no `workers`), and one whose placement is a function of its config with a stand-in.

const FIXTURES = fileURLToPath(new URL('../fixtures/workers/', import.meta.url));
const planOf = (file: string): Promise<Plan> => createPlan(`${FIXTURES}${file}`, { kinds: testKinds, importModules: false });

async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('placeServices', () => {
  it('a per-worker service on a once-service: the once process starts first; each list in start order', async () => {
    const plan = await planOf('each-on-once.yaml');
    const placement = placeServices(plan);
    expect(placement.onceFirst).toBe(true);
    expect(placement.each).toEqual(['web']);
    expect(placement.once).toEqual(['store']);
    expect(Object.fromEntries(placement.runs)).toEqual({ store: 'once', web: 'each' });
  });

  it('a once-service on a per-worker service: the workers start first; a kind without `workers` runs once, `runs` may be a function of the config', async () => {
    const plan = await planOf('once-on-each.yaml');
    const placement = placeServices(plan);
    expect(placement.onceFirst).toBe(false);
    expect(placement.each).toEqual(['web']);
    expect([...placement.once].sort()).toEqual(['bot', 'picked']);
    expect(runsOf(plan.services.get('picked')!)).toBe('once');
    expect(runsOf({ kind: plan.services.get('picked')!.kind, config: { ...plan.services.get('picked')!.config, mode: 'each' } })).toBe('each');
    expect(runsOf(plan.services.get('bot')!)).toBe('once');
  });

  it('edges crossing both ways: HX_ERR_WORKERS_GRAPH (exit 78) names every crossing edge, at a service of the manifest', async () => {
    const plan = await planOf('both-ways.yaml');
    const error = await thrown(() => placeServices(plan));
    expect(isHendrixError(error) && error.code).toBe('HX_ERR_WORKERS_GRAPH');
    if (!isHendrixError(error)) return;
    expect(error.exitCode).toBe(78);
    expect(error.message).toContain('web → store');
    expect(error.message).toContain('bot → web');
    expect(error.path).toEqual(['workers']);
    expect(error.location?.file).toMatch(/fixtures\/workers\/both-ways\.yaml$/);
    // the first per-worker service that depends on a once-service: web, written at line 5
    expect(error.location?.line).toBe(5);
  });

  it('only the selected services count (`hendrix up web` leaves the bot out): no conflict', async () => {
    const plan = await planOf('both-ways.yaml');
    const placement = placeServices(plan, plan.graph.closure(['web']));
    expect(placement.each).toEqual(['web']);
    expect(placement.once).toEqual(['store']);
    expect(placement.onceFirst).toBe(true);
  });
});

describe('planForRole', () => {
  it('keeps the services of the role as they are and puts stand-ins for the others: ready at once, a handle that throws HX_ERR_WORKER_PEER', async () => {
    const plan = await planOf('each-on-once.yaml');
    const workers = planForRole(plan, 'each');
    expect(workers.services.get('web')).toBe(plan.services.get('web'));
    expect(workers.order).toEqual(plan.order);
    const store = workers.services.get('store')!;
    expect(store.kind.provision).toBeUndefined();
    expect(store.kind.canReload?.({ fields: [['uses']], files: [] })).toBe(true);
    const standIn = (await store.kind.create({ name: 'store' } as never)) as Service;
    await standIn.start(new AbortController().signal);
    await standIn.stop(new AbortController().signal);
    const error = await thrown(() => standIn.handle!());
    expect(isHendrixError(error) && error.code).toBe('HX_ERR_WORKER_PEER');
    expect(String((error as Error).message)).toContain('store runs in the process of the once-services');

    const once = planForRole(plan, 'once');
    expect(once.services.get('store')).toBe(plan.services.get('store'));
    const web = (await once.services.get('web')!.kind.create({ name: 'web' } as never)) as Service;
    expect(String(((await thrown(() => web.handle!())) as Error).message)).toContain('web runs in every worker');
  });

  it('in the once process, a per-worker kind with `remote` is represented by its stand-in, which keeps the kind\'s canReload', async () => {
    const plan = await planOf('once-on-each.yaml');
    // `picked` runs once here; make a plan where it runs in every worker
    const picked = plan.services.get('picked')!;
    const eachPicked = Object.freeze({ ...picked, config: Object.freeze({ ...picked.config, mode: 'each' }) });
    const services = new Map(plan.services);
    services.set('picked', eachPicked);
    const mixed: Plan = Object.freeze({ ...plan, services });
    const once = planForRole(mixed, 'once');
    const standIn = (await once.services.get('picked')!.kind.create({ name: 'picked' } as never)) as Service;
    expect(standIn.handle!()).toBe('remote of picked');
    expect(once.services.get('picked')!.kind.canReload).toBe(picked.kind.canReload);
    // in a worker, a once-service never gets the remote stand-in
    const each = planForRole(mixed, 'each');
    const bot = (await each.services.get('bot')!.kind.create({ name: 'bot' } as never)) as Service;
    expect(() => bot.handle!()).toThrow(/bot runs in the process of the once-services/);
  });

  it('the built-in kinds: http and tls run in every worker, irc and raw once', async () => {
    const kinds = await testKinds.loadAll();
    const runs = (name: string) => kinds.get(name)?.workers?.runs;
    expect([runs('http'), runs('tls'), runs('irc'), runs('raw')]).toEqual(['each', 'each', 'once', 'once']);
  });
});
