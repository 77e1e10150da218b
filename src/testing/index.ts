/**
 * `hendrix/testing`: the shared contract suite every built-in kind runs, for kinds of your own.
 * The package's second entry point (a barrel, like src/index.ts is for `hendrix`); it needs
 * vitest, which the package names as an optional peer dependency.
 *
 * ```ts
 * import { describeServiceContract } from 'hendrix/testing';
 * describeServiceContract({ kind: echoKind, goodConfig: () => ({ listen: '127.0.0.1:0' }), ... });
 * ```
 */
export {
  describeServiceContract,
  createContractContext,
  type ContractSubject,
  type ContractContext,
  type ContractContextOptions,
  type ContractConfig,
  type ContractPeers,
  type CloseClient,
} from './contract.js';
export { PortBlockers, holdMidResponse } from './clients.js';
export { recordLifecycle, type LifecycleRecorder } from './recorder.js';
export { figureProblems } from './figures.js';
