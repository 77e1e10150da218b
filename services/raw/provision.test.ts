import { describe, expect, it } from 'vitest';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { planIn, planProblems, positionOf } from '../../test/helpers/plan-checks.js';

/**
 * The raw kind at plan time, through createPlan(): `from` entries are typed references to
 * pubsub services; the interface, namespace and privileges are left to start, which runs in
 * the namespaces and with the capabilities the plan does not have.
 */
const manifestDir = useManifestDirs();

/** A manifest with an http service `web`, a hub `hub`, then `services`. */
function manifest(services: string): string {
  return ['version: 1', 'services:', '  web:', '    kind: http', '    listen: 127.0.0.1:18000', '  hub:', '    kind: pubsub', '    attach: web', '    auth: {}', services].join('\n');
}

describe('raw at plan time', () => {
  it('`from` naming a service that is not a hub is HX_ERR_RAW_FROM at that entry', async () => {
    const yaml = manifest(['  beacon:', '    kind: raw', '    interface: lo', '    from: web:alerts', '  list:', '    kind: raw', '    interface: lo', '    from: [hub:alerts, web:sensors.>]'].join('\n'));
    const problems = await planProblems(manifestDir({ 'hendrix.yaml': yaml }));
    expect(problems.map((p) => [p.code, p.path, p.location && { line: p.location.line, column: p.location.column }])).toEqual([
      ['HX_ERR_RAW_FROM', ['services', 'beacon', 'from'], positionOf(yaml, 'web:alerts')],
      ['HX_ERR_RAW_FROM', ['services', 'list', 'from', 1], positionOf(yaml, 'web:sensors.>')],
    ]);
    expect(problems[0]!.message).toContain('must name a `pubsub` service, but `web` is of kind `http`');
  });

  it('plans a hub-driven emitter on an interface this process cannot see, in a namespace that does not exist', async () => {
    const yaml = manifest(['  beacon:', '    kind: raw', '    interface: hxnosuch0', '    netns: hx-no-such-netns', '    from: hub:alerts.>'].join('\n'));
    const plan = await planIn(manifestDir({ 'hendrix.yaml': yaml }));
    expect(plan.services.get('beacon')!.dependencies).toEqual(['hub']);
    expect(plan.services.get('beacon')!.files.every((f) => f.role === 'manifest')).toBe(true);
    expect(plan.warnings).toEqual([]);
  });
});
