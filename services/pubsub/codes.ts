import { defineErrorCodes } from '../../src/errors/codes.js';

/** The error codes of the `pubsub` kind: title, hint and exit code of each (docs/errors.md lists them). */
export const pubsubCodes = defineErrorCodes({
  HX_ERR_PUBSUB_ATTACH: { title: '`attach` does not name an http service', hint: 'a hub attaches to a service of kind http (or listens on its own with `listen`)', exit: 1 },
  HX_ERR_PUBSUB_SCHEMA: { title: 'topic schema cannot be used', hint: 'give a readable JSON file holding a valid JSON Schema, relative to the manifest', exit: 1 },
  HX_ERR_PUBSUB_AUTH_KEY: { title: 'JWT public key cannot be read', hint: 'give a PEM public key file, relative to the manifest', exit: 1 },
  HX_ERR_PUBSUB_BACKPLANE: { title: 'cannot connect to the backplane', hint: 'check that Redis runs at the `backplane` URL and accepts connections from here', exit: 1 },
  HX_ERR_PUBSUB_CLUSTER: { title: 'hub not welcomed across workers', hint: 'the primary process did not hand this instance the hub\'s history before the start gave up: see the primary\'s log; with a large history (limits.historyBytes), raise startTimeout', exit: 1 },
  HX_ERR_PUBSUB_REJECTED: { title: 'message refused by the hub', hint: 'publish on a topic without wildcards, with data that satisfies the topic schema', exit: 1 },
  HX_ERR_PUBSUB_OPEN: { title: 'hub without auth is reachable beyond this machine', hint: 'anyone who reaches it may publish and subscribe to every topic: add `auth` (tokens, jwt; `anonymous` for what anyone may do), or listen on 127.0.0.1, ::1 or a unix socket (this is a warning: the hub still starts)', exit: 78 },
});
