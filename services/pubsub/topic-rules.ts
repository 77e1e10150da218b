import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { HendrixError, type PathSegment, type SourceLocation } from '../../src/errors/hendrix-error.js';
import type { TopicConfig } from './schema.js';
import { matches } from '../../src/net/topics.js';

/** Where rule problems at start are reported. */
export interface RulesContext {
  readonly service: string;
  readonly baseDir: string;
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
}

interface Rule {
  readonly pattern: string;
  readonly config: TopicConfig;
  readonly validate: ValidateFunction | undefined;
}

const CACHE_LIMIT = 10_000;

type AjvInstance = import('ajv').Ajv;
type AjvClass = new (options: { allErrors: boolean; strict: boolean }) => AjvInstance;

/**
 * The ajv class for draft-07 or 2020-12 schemas, loaded on first use. ajv is CommonJS: its
 * class is a named export under Node and vitest, but only `default` once bundled.
 */
async function ajvClass(draft: '07' | '2020'): Promise<AjvClass> {
  const mod = (draft === '2020' ? await import('ajv/dist/2020.js') : await import('ajv')) as unknown as Record<string, unknown> & { default?: Record<string, unknown> };
  const name = draft === '2020' ? 'Ajv2020' : 'Ajv';
  return (mod[name] ?? mod.default?.[name] ?? mod.default) as AjvClass;
}

/**
 * Compiles the JSON Schema files of topics with ajv (draft-07, or 2020-12 when `$schema` says
 * 2019-09 or 2020-12), one ajv of each draft per compiler. Start (TopicRules) and the plan's
 * provision step both compile through it, so a schema the plan accepts is one start accepts.
 */
export class TopicSchemaCompiler {
  readonly #context: RulesContext;
  #ajv: AjvInstance | undefined;
  #ajv2020: AjvInstance | undefined;

  constructor(context: RulesContext) {
    this.#context = context;
  }

  /**
   * Reads, parses and compiles the `schema` file of the topic `pattern`; a missing, unreadable,
   * non-JSON or invalid one is HX_ERR_PUBSUB_SCHEMA at `topics.<pattern>.schema`.
   */
  async compile(pattern: string, schemaFile: string): Promise<ValidateFunction> {
    const context = this.#context;
    const path: PathSegment[] = ['topics', pattern, 'schema'];
    const file = resolve(context.baseDir, schemaFile);
    const fail = (message: string, cause?: unknown): HendrixError =>
      new HendrixError('HX_ERR_PUBSUB_SCHEMA', { service: context.service, path: ['services', context.service, ...path], location: context.locate(path), message, cause });
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw fail(`cannot read the schema ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error);
    }
    let schema: unknown;
    try {
      schema = JSON.parse(text);
    } catch (error) {
      throw fail(`${file} is not JSON: ${(error as Error).message}`, error);
    }
    const modern = /2019-09|2020-12/.test(String((schema as { $schema?: unknown } | null)?.$schema ?? ''));
    const compiler = modern
      ? (this.#ajv2020 ??= new (await ajvClass('2020'))({ allErrors: true, strict: false }))
      : (this.#ajv ??= new (await ajvClass('07'))({ allErrors: true, strict: false }));
    try {
      return compiler.compile(schema as object);
    } catch (error) {
      throw fail(`${file} is not a valid JSON Schema: ${(error as Error).message}`, error);
    }
  }
}

/**
 * The `topics` section compiled: for a topic, the first pattern (in file order) that matches
 * it gives its history limits and its JSON Schema, compiled once with ajv at start.
 */
export class TopicRules {
  readonly #rules: Rule[];
  readonly #cache = new Map<string, Rule | null>();

  private constructor(rules: Rule[]) {
    this.#rules = rules;
  }

  /** Reads and compiles every schema file; a missing or invalid one is HX_ERR_PUBSUB_SCHEMA at its line. */
  static async create(topics: Readonly<Record<string, TopicConfig>>, context: RulesContext): Promise<TopicRules> {
    const compiler = new TopicSchemaCompiler(context);
    const rules: Rule[] = [];
    for (const [pattern, config] of Object.entries(topics)) {
      const validate = config.schema === undefined ? undefined : await compiler.compile(pattern, config.schema);
      rules.push({ pattern, config, validate });
    }
    return new TopicRules(rules);
  }

  #rule(topic: string): Rule | undefined {
    const cached = this.#cache.get(topic);
    if (cached !== undefined) return cached ?? undefined;
    const rule = this.#rules.find((r) => matches(r.pattern, topic));
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(topic, rule ?? null);
    return rule;
  }

  /** The history limits of a topic, or undefined when no pattern matches. */
  limits(topic: string): { history: number; ttl: number } | undefined {
    return this.#rule(topic)?.config;
  }

  /** The `ttl` of every entry (the hub sweeps often enough for the shortest). */
  ttls(): number[] {
    return this.#rules.map((rule) => rule.config.ttl);
  }

  /** Why `data` may not be published on `topic` (the schema's errors), or undefined when it may. */
  check(topic: string, data: unknown): string | undefined {
    const validate = this.#rule(topic)?.validate;
    if (validate === undefined || validate(data)) return undefined;
    return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
  }
}
