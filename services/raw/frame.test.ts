import { describe, expect, it } from 'vitest';
import { FrameBuilder, encodeHeader, wakeOnLanPayload } from './frame.js';
import { formatMac, isGroupMac, parseMac } from './mac.js';
import { dataBytes, parsePayload, type Payload, type PayloadValues } from './payload.js';

const values = (over: Partial<PayloadValues> = {}): PayloadValues => ({ ts: 1_700_000_000_123, seq: 7, data: Buffer.alloc(0), topic: '', id: '', ...over });
const payload = (text: string): Payload => {
  const parsed = parsePayload(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

describe('MAC addresses', () => {
  it('accepts the colon, dash, Cisco and bare forms in any case, and formats them one way', () => {
    for (const text of ['02:AB:cd:00:11:22', '02-ab-cd-00-11-22', '02ab.cd00.1122', '02ABCD001122', ' 02:ab:cd:00:11:22 ']) {
      expect(formatMac(parseMac(text)!)).toBe('02:ab:cd:00:11:22');
    }
  });

  it('refuses mixed separators, wrong lengths and non-hex digits', () => {
    for (const text of ['02:ab-cd:00:11:22', '02:ab:cd:00:11', '02:ab:cd:00:11:22:33', 'zz:ab:cd:00:11:22', '', '2:ab:cd:0:11:22']) expect(parseMac(text)).toBeUndefined();
  });

  it('knows group (multicast and broadcast) addresses', () => {
    expect(isGroupMac(parseMac('ff:ff:ff:ff:ff:ff')!)).toBe(true);
    expect(isGroupMac(parseMac('01:00:5e:00:00:01')!)).toBe(true);
    expect(isGroupMac(parseMac('02:00:5e:00:00:01')!)).toBe(false);
  });
});

describe('payloads', () => {
  it('text, hex (with separators) and base64 are fixed bytes', () => {
    expect(payload('héllo')).toEqual({ kind: 'static', bytes: Buffer.from('héllo', 'utf8') });
    expect(payload('hex:DE:AD be-ef 00.01')).toEqual({ kind: 'static', bytes: Buffer.from('deadbeef0001', 'hex') });
    expect(payload('base64:AAEC/w==')).toEqual({ kind: 'static', bytes: Buffer.from([0, 1, 2, 255]) });
    expect(payload('base64:_-8')).toEqual({ kind: 'static', bytes: Buffer.from([0xff, 0xef]) });
    expect(payload('text:hex:not hex')).toEqual({ kind: 'static', bytes: Buffer.from('hex:not hex') });
    expect(payload('hex:')).toEqual({ kind: 'static', bytes: Buffer.alloc(0) });
  });

  it('says what is wrong with bad hex, bad base64 and unknown placeholders', () => {
    expect(parsePayload('hex:abc')).toBe('hex payload has an odd number of digits (3): two digits per byte');
    expect(parsePayload('hex:zz')).toBe('hex payload holds a character that is not a hex digit: "zz"');
    expect(parsePayload('base64:a')).toBe('base64 payload is not valid base64');
    expect(parsePayload('base64:a!b')).toBe('base64 payload is not valid base64');
    expect(parsePayload('n=${sequence}')).toBe(
      'unknown placeholder ${sequence} in the payload: a template may use ${ts}, ${seq}, ${data}, ${topic}, ${id} (written $${seq} in the manifest)',
    );
  });

  it('templates render ts and seq as decimal text and data as its bytes', () => {
    const builder = new FrameBuilder({ destination: Buffer.alloc(6, 0xff), source: Buffer.alloc(6, 2), ethertype: 0x88b5 });
    const frame = builder.build(payload('${seq}|${ts}|${data}|${topic}|${id}'), values({ data: Buffer.from('Zürich'), topic: 't.x', id: '3:9' }));
    expect(frame.subarray(14).toString('utf8').replace(/\0+$/, '')).toBe('7|1700000000123|Zürich|t.x|3:9');
    expect(frame.length).toBe(60);
  });

  it('message data: a string as text, bytes as they are, { hex } and { base64 } decoded, anything else as JSON', () => {
    expect(dataBytes('a b')).toEqual(Buffer.from('a b'));
    expect(dataBytes(new Uint8Array([1, 2]))).toEqual(Buffer.from([1, 2]));
    expect(dataBytes({ hex: '0a0b' })).toEqual(Buffer.from([10, 11]));
    expect(dataBytes({ base64: 'AQI=' })).toEqual(Buffer.from([1, 2]));
    expect(dataBytes({ hex: '0a0b', more: 1 })).toEqual(Buffer.from('{"hex":"0a0b","more":1}'));
    expect(dataBytes([1, 'x'])).toEqual(Buffer.from('[1,"x"]'));
    expect(dataBytes(42)).toEqual(Buffer.from('42'));
    expect(dataBytes(null)).toEqual(Buffer.from('null'));
    expect(dataBytes(undefined)).toEqual(Buffer.alloc(0));
    expect(dataBytes({ hex: 'xyz' })).toBe('message data { hex }: hex payload holds a character that is not a hex digit: "xyz"');
  });
});

describe('frames', () => {
  const dst = parseMac('ff:ff:ff:ff:ff:ff')!;
  const src = parseMac('02:00:00:00:00:01')!;

  it('the header: destination, source, EtherType; with a VLAN the 802.1Q tag (TPID, PCP, DEI, VID) before it', () => {
    expect(encodeHeader({ destination: dst, source: src, ethertype: 0x88b5 }).toString('hex')).toBe('ffffffffffff02000000000188b5');
    expect(encodeHeader({ destination: dst, source: src, ethertype: 0x0800, vlan: { id: 4094, priority: 7, dei: true } }).toString('hex')).toBe('ffffffffffff0200000000018100fffe0800');
    expect(encodeHeader({ destination: dst, source: src, ethertype: 0x88b5, vlan: { id: 0, priority: 3, dei: false } }).toString('hex')).toBe('ffffffffffff0200000000018100600088b5');
  });

  it('pads to 60 bytes, 64 with a VLAN tag, and never pads a long frame', () => {
    const plain = new FrameBuilder({ destination: dst, source: src, ethertype: 0x88b5 });
    const tagged = new FrameBuilder({ destination: dst, source: src, ethertype: 0x88b5, vlan: { id: 5, priority: 0, dei: false } });
    expect(plain.bytes(Buffer.from('hi'))).toEqual(Buffer.concat([encodeHeader({ destination: dst, source: src, ethertype: 0x88b5 }), Buffer.from('hi'), Buffer.alloc(44)]));
    expect(tagged.bytes(Buffer.from('hi')).length).toBe(64);
    expect(plain.bytes(Buffer.alloc(46)).length).toBe(60);
    expect(plain.bytes(Buffer.alloc(47)).length).toBe(61);
    expect(plain.frameLength(1500)).toBe(1514);
  });

  it('a fixed payload is built once and the same frame reused', () => {
    const builder = new FrameBuilder({ destination: dst, source: src, ethertype: 0x88b5 });
    const fixed = payload('beacon');
    expect(builder.build(fixed, values())).toBe(builder.build(fixed, values({ seq: 8 })));
    const other = payload('other');
    expect(builder.build(other, values()).subarray(14, 19).toString()).toBe('other');
  });

  it('Wake-on-LAN: six 0xff, the MAC sixteen times, then the SecureOn password', () => {
    const mac = parseMac('00:11:22:33:44:55')!;
    const magic = wakeOnLanPayload(mac);
    expect(magic.length).toBe(102);
    expect(magic.toString('hex')).toBe(`${'ff'.repeat(6)}${'001122334455'.repeat(16)}`);
    expect(wakeOnLanPayload(mac, Buffer.from([192, 168, 1, 1])).subarray(102).toString('hex')).toBe('c0a80101');
  });
});
