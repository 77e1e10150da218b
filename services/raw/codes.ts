import { defineErrorCodes } from '../../src/errors/codes.js';

/** The error codes of the `raw` kind: title, hint and exit code of each (docs/errors.md lists them). */
export const rawCodes = defineErrorCodes({
  HX_ERR_RAW_ADDON: { title: 'raw frame addon is not built or cannot be loaded', hint: 'install python3, make and a C compiler (apt-get install -y python3 make g++), then run `npm rebuild hendrix` (npm 11 runs it only once the project allows it: `npm install-scripts approve hendrix`; in a hendrix checkout: `npm run build:addon`)', exit: 1 },
  HX_ERR_RAW_PERMISSION: { title: 'no permission to open a raw socket', hint: 'raw frames need CAP_NET_RAW: run hendrix as root, or give node the capability once: sudo setcap cap_net_raw+ep "$(readlink -f "$(command -v node)")"', exit: 1 },
  HX_ERR_RAW_NO_INTERFACE: { title: 'network interface does not exist', hint: 'name one of the interfaces the message lists (`ip link` shows them)', exit: 1 },
  HX_ERR_RAW_INTERFACE_DOWN: { title: 'network interface is down', hint: 'bring it up (ip link set NAME up) and start again; while running, frames are dropped until it is back up', exit: 1 },
  HX_ERR_RAW_NOT_ETHERNET: { title: 'interface does not carry Ethernet frames', hint: 'pick an Ethernet interface (`ip link` shows link/ether) or lo; tun, wireguard and CAN interfaces have no Ethernet header', exit: 1 },
  HX_ERR_RAW_NETNS: { title: 'network namespace cannot be entered', hint: 'check the name (`ip netns list`) or path; entering a namespace needs CAP_SYS_ADMIN (root)', exit: 1 },
  HX_ERR_RAW_FRAME_TOO_BIG: { title: 'frame larger than the interface MTU', hint: 'shorten the payload, or raise the MTU of the interface (ip link set NAME mtu BYTES)', exit: 1 },
  HX_ERR_RAW_QUEUE_FULL: { title: 'raw frames dropped: the send queue is full', hint: 'raise `maxRate` or `maxQueue`, or publish less often', exit: 1 },
  HX_ERR_RAW_SEND: { title: 'raw socket failed: frames cannot be sent', hint: 'the cause is quoted in the message; the restart policy decides what happens next', exit: 1 },
  HX_ERR_RAW_FROM: { title: '`from` does not name a pub/sub hub, or a message cannot become a frame', hint: 'write from: "<hub>:<topic>" naming a kind: pubsub service; message data is text, JSON, { hex } or { base64 } (a MAC address or { mac } with wakeOnLan)', exit: 1 },
});
