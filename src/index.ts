/**
 * The public API of Hendrix: what `import ... from 'hendrix'` gives an app or a custom kind.
 * The CLI is a thin layer over the same functions.
 */
export { up, plan, type UpOptions, type Hendrix } from './runtime/up.js';
export { defineServiceKind, isServiceKind } from './runtime/define-service-kind.js';
export type {
  Service,
  ServiceContext,
  ServiceKind,
  ServiceKindDefinition,
  Reference,
  CommonServiceConfig,
  RestartConfig,
} from './runtime/contract.js';
export { HendrixError, isHendrixError, formatPath, type SourceLocation, type PathSegment } from './errors/hendrix-error.js';
export { ERROR_CODES, EXIT, type ErrorCode } from './errors/codes.js';
export { duration, size, int, number, bool, listen, parseListen, formatListen, type ListenAddress } from './manifest/fields.js';
export { parseDuration, parseSize } from './manifest/units.js';
export { z } from 'zod';
export { crosstown, type Crosstown, type CrosstownOptions, type CrosstownTaskOptions } from './crosstown/api.js';
export type { CrosstownStats } from './crosstown/runtime.js';
