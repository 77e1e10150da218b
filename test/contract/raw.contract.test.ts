import { rawKind } from '../../services/raw/kind.js';
import { Capture } from '../helpers/raw/test-harness.js';
import { canMakeNetns, createNetns, type TestNetns } from '../helpers/netns.js';
import { describeServiceContract } from '../../src/testing/index.js';

// The raw kind needs a namespace with a veth pair (root): the service sends a beacon on hxa,
// the probe captures it on hxb. Without root the suite is skipped (and fails in CI).
if (canMakeNetns()) {
  let ns: TestNetns | undefined;
  let macA: Buffer | undefined;

  const netns = (): TestNetns => {
    if (ns === undefined) throw new Error('the namespace is made in setup()');
    return ns;
  };

  describeServiceContract({
    kind: rawKind,
    name: 'beacon',
    setup() {
      ns = createNetns('contract');
      macA = ns.veth('hxa', 'hxb').a;
    },
    teardown() {
      ns?.remove();
    },
    goodConfig: () => ({ interface: 'hxa', netns: netns().name, every: '40ms', payload: 'contract' }),
    failingConfig: () => Promise.resolve({ interface: 'nope0', netns: netns().name, every: '40ms' }),
    failingCode: 'HX_ERR_RAW_NO_INTERFACE',
    // the service answers when its beacon arrives on the other end of the pair
    async probe() {
      const capture = new Capture('hxb', netns().path, (f) => macA !== undefined && f.subarray(6, 12).equals(macA) && f.readUInt16BE(12) === 0x88b5);
      try {
        await capture.take(1, 400);
      } finally {
        capture.close();
      }
    },
  });
}
