import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canMakeNetns, createNetns, type TestNetns } from '../../test/helpers/netns.js';
import { needCommand } from '../../test/helpers/system-command.js';
import { formatMac } from './mac.js';
import { Capture, startRaw, stopRaw } from '../../test/helpers/raw/test-harness.js';

/** The packets of a classic pcap file (as tcpdump -w writes it). */
function pcapPackets(file: Buffer): Buffer[] {
  const little = file.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (at: number) => (little ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const packets: Buffer[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const length = u32(at + 8);
    packets.push(file.subarray(at + 16, at + 16 + length));
    at += 16 + length;
  }
  return packets;
}

/** Runs tcpdump inside the namespace until it has `count` packets (or 5 s pass). */
function tcpdump(ns: TestNetns, iface: string, filter: string, count: number): Promise<Buffer[]> {
  const child = spawn('ip', ['netns', 'exec', ns.name, 'tcpdump', '--immediate-mode', '-i', iface, '-U', '-w', '-', '-c', String(count), '-s', '0', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<Buffer[]>((resolve, reject) => {
    const timer = setTimeout(() => child.kill(), 5_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(pcapPackets(Buffer.concat(chunks)));
      else reject(new Error(`tcpdump exited with ${code}: ${stderr}`));
    });
  });
}

describe.runIf(canMakeNetns() && needCommand('tcpdump'))('tcpdump sees the same bytes as the addon capture', () => {
  let ns: TestNetns;
  let macA: Buffer;
  beforeAll(() => {
    ns = createNetns('pcap');
    macA = ns.veth('hxa', 'hxb').a;
  });
  afterAll(() => ns?.remove());
  afterEach(stopRaw);

  it('VLAN-tagged template frames, byte for byte, in libpcap and in the addon capture', async () => {
    const capture = new Capture('hxb', ns.path, (f) => f.subarray(6, 12).equals(macA) && f.readUInt16BE(12) === 0x8100);
    try {
      // the beacon runs before tcpdump starts: whichever frames tcpdump gets, the addon got them too
      await startRaw({ interface: 'hxa', netns: ns.name, vlan: { id: 42, priority: 6 }, payload: 'seq=${seq}', every: '20ms' });
      const seen = await tcpdump(ns, 'hxb', `ether src ${formatMac(macA)} and vlan 42`, 3);
      expect(seen).toHaveLength(3);
      await new Promise((r) => setTimeout(r, 50)); // the addon's poll callback may still be due
      const captured = new Set(capture.hex());
      for (const packet of seen) {
        expect(packet.length).toBe(64);
        expect(packet.subarray(12, 18).toString('hex')).toBe('8100c02a88b5');
        expect(packet.subarray(18, 22).toString('latin1')).toBe('seq=');
        expect(captured.has(packet.toString('hex')), `the addon captured ${packet.toString('hex')}`).toBe(true);
      }
    } finally {
      capture.close();
    }
  });
});
