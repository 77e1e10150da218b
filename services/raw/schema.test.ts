import { describe, expect, it } from 'vitest';
import { isHendrixError, type HendrixError } from '../../src/errors/hendrix-error.js';
import { flattenErrors } from '../../src/errors/render.js';
import { join } from 'node:path';
import { createPlan } from '../../src/runtime/plan.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { rawKind } from './kind.js';
import { ethertypeOf, fromEntries } from './schema.js';
import { testKinds } from '../../test/helpers/kinds.js';

const dirs = useManifestDirs();

/** Resolves a manifest holding `services` (YAML lines under `services:`); returns the config of `beacon` or the errors. */
async function resolve(services: string, environment: Record<string, string> = {}): Promise<{ config?: Record<string, unknown>; errors: HendrixError[] }> {
  const cwd = dirs({ 'hendrix.yaml': `version: 1\nservices:\n${services}` });
  try {
    const { resolved } = await createPlan(join(cwd, 'hendrix.yaml'), { kinds: testKinds, cwd, environment });
    return { config: resolved.manifest.services['beacon'] as Record<string, unknown>, errors: [] };
  } catch (error) {
    if (!isHendrixError(error)) throw error;
    return { errors: flattenErrors(error).filter((e) => e.code !== 'HX_ERR_MANIFEST') };
  }
}

const beacon = (fields: string) => `  beacon:\n    kind: raw\n    interface: eth0\n${fields.replace(/^/gm, '    ')}\n`;

/** The one problem of a manifest: its code, path and message. */
async function problem(fields: string): Promise<{ code: string; path: string; message: string }> {
  const { errors } = await resolve(beacon(fields));
  expect(errors.length, errors.map((e) => e.message).join('\n')).toBe(1);
  const [error] = errors as [HendrixError];
  return { code: error.code, path: (error.path ?? []).join('.'), message: error.message };
}

describe('the raw kind in a manifest', () => {
  it('applies the defaults and normalizes MAC addresses and EtherTypes', async () => {
    const { config, errors } = await resolve(beacon('every: 1s\nsource: 02-AB-CD-00-11-22\nethertype: "0x88b6"\nvlan: 10'));
    expect(errors).toEqual([]);
    expect(config).toMatchObject({
      kind: 'raw',
      interface: 'eth0',
      destination: 'ff:ff:ff:ff:ff:ff',
      source: '02:ab:cd:00:11:22',
      ethertype: 0x88b6,
      vlan: { id: 10, priority: 0, dei: false },
      every: 1000,
      maxRate: 1000,
      maxQueue: 1000,
    });
    expect(ethertypeOf({ ethertype: undefined, wakeOnLan: undefined })).toBe(0x88b5);
    expect(ethertypeOf({ ethertype: undefined, wakeOnLan: { mac: '00:11:22:33:44:55' } })).toBe(0x0842);
  });

  it('a template placeholder is written $${seq}: the manifest interpolates ${...} from the environment first', async () => {
    const { config, errors } = await resolve(beacon("every: 1s\npayload: 'n=$${seq} at $${ts} on ${HOSTNAME_FOR_TEST}'"), { HOSTNAME_FOR_TEST: 'box' });
    expect(errors).toEqual([]);
    expect(config?.['payload']).toBe('n=${seq} at ${ts} on box');
    const unescaped = await resolve(beacon("every: 1s\npayload: 'n=${seq}'"));
    expect(unescaped.errors.map((e) => [e.code, e.message])).toEqual([['HX_ERR_VAR_UNSET', 'variable `seq` is not set and `${seq}` has no default']]);
  });

  it('rejects MAC addresses in no known form, and a multicast source', async () => {
    expect(await problem('every: 1s\ndestination: 01:02:03:04:05')).toMatchObject({
      code: 'HX_ERR_INVALID_VALUE',
      path: 'services.beacon.destination',
      message: expect.stringContaining('expected a MAC address such as 02:00:5e:10:00:01'),
    });
    expect(await problem('every: 1s\nsource: 01:00:5e:00:00:01')).toMatchObject({
      path: 'services.beacon.source',
      message: expect.stringContaining("is a multicast or broadcast address: a source address is one machine's"),
    });
  });

  it('rejects EtherTypes out of range and VLAN tag protocols, VLAN ids above 4094', async () => {
    expect(await problem('every: 1s\nethertype: 1500')).toMatchObject({ path: 'services.beacon.ethertype', message: expect.stringContaining('0x0600 (1536) or more: smaller values are 802.3 length fields') });
    expect(await problem('every: 1s\nethertype: 0x10000')).toMatchObject({ path: 'services.beacon.ethertype', message: '`ethertype`: an EtherType is at most 0xffff' });
    expect(await problem('every: 1s\nethertype: "88b5h"')).toMatchObject({ path: 'services.beacon.ethertype', message: expect.stringContaining('expected an EtherType such as 0x88b5') });
    expect(await problem('every: 1s\nethertype: "0x8100"')).toMatchObject({ path: 'services.beacon.ethertype', message: expect.stringContaining('set `vlan` for the tag') });
    expect(await problem('every: 1s\nvlan: 4095')).toMatchObject({ path: 'services.beacon.vlan', message: expect.stringContaining('4095 is reserved') });
    expect(await problem('every: 1s\nvlan: { id: 5, priority: 8 }')).toMatchObject({ path: 'services.beacon.vlan.priority' });
  });

  it('rejects payloads that do not parse, with what is wrong', async () => {
    expect(await problem('every: 1s\npayload: "hex:abc"')).toMatchObject({ path: 'services.beacon.payload', message: expect.stringContaining('odd number of digits') });
    expect(await problem("every: 1s\npayload: 'x=$${count}'")).toMatchObject({ path: 'services.beacon.payload', message: expect.stringContaining('unknown placeholder ${count}') });
  });

  it('checks wakeOnLan, every against maxRate, and from', async () => {
    expect(await problem('wakeOnLan: { mac: 00:11:22:33:44:55 }\npayload: x\nevery: 1s')).toMatchObject({ path: 'services.beacon.payload', message: '`payload`: wakeOnLan builds the payload (the magic packet): remove `payload`' });
    expect(await problem('wakeOnLan: {}\nevery: 1s')).toMatchObject({ path: 'services.beacon.wakeOnLan.mac' });
    expect(await problem('every: 1ms\nmaxRate: 100')).toMatchObject({ path: 'services.beacon.every', message: '`every`: every 1ms is 1000 frames/s, above maxRate 100: raise maxRate or lengthen every' });
    expect(await problem('from: alerts')).toMatchObject({ path: 'services.beacon.from', message: expect.stringContaining('expected "<hub service>:<topic>"') });
    expect(await problem('from: "hub:a.>.b"')).toMatchObject({ path: 'services.beacon.from', message: expect.stringContaining('must be the last segment') });
  });

  it('from is a reference: an edge to the hub, and an unknown hub is reported at its line', async () => {
    expect(fromEntries({ from: ['hub:a', 'other:b.*'] })).toEqual([
      { hub: 'hub', topic: 'a', path: ['from', 0] },
      { hub: 'other', topic: 'b.*', path: ['from', 1] },
    ]);
    const refs = typeof rawKind.references === 'function' ? rawKind.references({ from: 'hub:x' } as never) : [];
    // typed: the plan refuses a `from` naming a service that is not a hub
    expect(refs).toEqual([{ path: ['from'], target: 'hub', kinds: ['pubsub'], code: 'HX_ERR_RAW_FROM' }]);
    const { errors } = await resolve(beacon('from: "nohub:alerts"'));
    expect(errors.map((e) => e.code)).toEqual(['HX_ERR_UNKNOWN_REFERENCE']);
    expect(errors[0]?.location?.line).toBe(6);
  });
});
