import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve as resolvePath } from 'node:path';
import { HendrixError, formatPath, isHendrixError, type PathSegment, type SourceLocation } from '../errors/hendrix-error.js';
import type { PlanFileRole, ProvisionContext, ServiceKind } from '../kinds/contract.js';

/** A file or folder a service depends on. */
export interface PlanFile {
  /** The absolute path. */
  readonly path: string;
  /** What it is to the service (app, module, cert, key, static...). */
  readonly role: PlanFileRole;
  /** The config field that named it (inside the service), when one did. */
  readonly field: readonly PathSegment[] | undefined;
  /** The SHA-256 of its content when the plan was made (files only). */
  readonly digest?: string | undefined;
}

/** What provisionService needs about one validated service. */
export interface ProvisionInput {
  readonly name: string;
  readonly kind: ServiceKind;
  readonly config: Readonly<Record<string, unknown>>;
  readonly baseDir: string;
  readonly importModules: boolean;
  /** Locates a manifest path (from `services`), for error messages. */
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
  /** Another service's kind name and config, when it validated. */
  peer(name: string): { readonly kind: string; readonly config: Readonly<Record<string, unknown>> } | undefined;
}

/** What one service's provision step found. */
export interface ProvisionResult {
  readonly problems: HendrixError[];
  readonly warnings: HendrixError[];
  readonly files: PlanFile[];
}

/**
 * Runs a kind's provision step for one service and collects what it reports: problems (each
 * placed at its manifest file:line:col), warnings, and the files the service depends on. A
 * provision step that throws is reported as a problem of that service, not as a crash.
 */
export async function provisionService(input: ProvisionInput): Promise<ProvisionResult> {
  const { name } = input;
  const base: PathSegment[] = ['services', name];
  const problems: HendrixError[] = [];
  const warnings: HendrixError[] = [];
  const files: PlanFile[] = [];
  const locate = (path: readonly PathSegment[]) => input.locate([...base, ...path]);
  /** Fills in the service, the full manifest path and its location. */
  const place = (error: HendrixError): HendrixError => {
    const inner = error.path ?? [];
    const path = inner[0] === 'services' ? inner : [...base, ...inner];
    const location = error.location ?? input.locate(path);
    if (error.service === name && error.path === path && error.location === location) return error;
    return new HendrixError(error.code, {
      message: error.message,
      path,
      ...(location ? { location } : {}),
      service: name,
      hint: error.hint,
      ...(error.cause === undefined ? {} : { cause: error.cause }),
      related: error.related,
      errors: error.errors,
    });
  };
  const absolute = (file: string) => (isAbsolute(file) ? file : resolvePath(input.baseDir, file));
  // files are listed in the order the kind asked for them, not the order its checks finished in:
  // the same manifest gives the same list (and the same fingerprint) every time
  const asked = new Map<PlanFile, number>();
  let tickets = 0;
  const record = (file: string, role: PlanFileRole, path: readonly PathSegment[], ticket = tickets++) => {
    const abs = absolute(file);
    if (!files.some((f) => f.path === abs && f.role === role)) {
      const entry: PlanFile = { path: abs, role, field: path };
      asked.set(entry, ticket);
      files.push(entry);
    }
    return abs;
  };
  const ctx: ProvisionContext<Record<string, unknown>> = {
    name,
    kind: String(input.config.kind ?? input.kind.kind),
    config: input.config as Record<string, unknown>,
    baseDir: input.baseDir,
    importModules: input.importModules,
    locate,
    peer: input.peer,
    file: (file, role, path) => record(file, role, path),
    async need(file, role, path, options) {
      const ticket = tickets++;
      const abs = absolute(file);
      const what = options.what ?? `\`${formatPath(path)}\``;
      const shown = relative(input.baseDir, abs) || abs;
      const info = await stat(abs).catch((cause: NodeJS.ErrnoException) => cause);
      let problem: string | undefined;
      if (info instanceof Error) {
        problem = info.code === 'ENOENT' ? `${what} names ${file}, which does not exist (looked at ${abs})` : `${what} names ${file}, which cannot be read: ${info.message}`;
      } else if (options.folder && !info.isDirectory()) problem = `${what} names ${shown}, which is not a folder`;
      else if (!options.folder && info.isDirectory()) problem = `${what} names ${shown}, which is a folder, not a file`;
      else {
        const readable = await access(abs, constants.R_OK | (options.folder ? constants.X_OK : 0)).then(
          () => true,
          () => false,
        );
        if (!readable) problem = `${what} names ${shown}, which this user (uid ${process.getuid?.() ?? '?'}) may not read`;
      }
      if (problem) {
        problems.push(place(new HendrixError(options.code, { message: problem, path })));
        return undefined;
      }
      record(abs, role, path, ticket);
      return abs;
    },
    problem: (error) => void problems.push(place(error)),
    async check(run) {
      try {
        await run();
      } catch (error) {
        if (!isHendrixError(error)) throw error;
        problems.push(place(error));
      }
    },
    warn: (error) => void warnings.push(place(error)),
  };
  if (input.kind.provision) {
    try {
      await input.kind.provision(ctx as never);
    } catch (cause) {
      problems.push(
        place(
          isHendrixError(cause)
            ? cause
            : new HendrixError('HX_ERR_PROVISION', {
                message: `the provision step of kind \`${input.kind.kind}\` failed: ${cause instanceof Error ? cause.message : String(cause)}`,
                cause,
              }),
        ),
      );
    }
  }
  files.sort((a, b) => asked.get(a)! - asked.get(b)!);
  return { problems, warnings, files };
}
