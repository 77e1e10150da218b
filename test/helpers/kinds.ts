import { builtinKinds } from '../../services/index.js';
import { createKindRegistry } from '../../src/kinds/registry.js';

/** The registry of the built-in kinds, as the CLI composes it: what core tests plan with. */
export const testKinds = createKindRegistry(builtinKinds);
