import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { HendrixError, type PathSegment, type SourceLocation } from '../errors/hendrix-error.js';
import { locateExact, offsetToLocation, scalarSource, type LocateTarget, type YamlSource } from './locate.js';
import type { ManifestLayer } from './types.js';
import { duplicateKeys, syntaxErrors } from './yaml-errors.js';

/** The raw text of a scalar and a way to locate offsets inside it (for `${VAR}` errors). */
export interface ScalarText {
  /** The scalar as written in the source, quotes and escapes included. */
  readonly raw: string;
  /** The location of an offset into `raw` (and of `length` characters from it). */
  toLocation(offset: number, length?: number): SourceLocation;
}

/** One parsed manifest layer: its value tree and how to locate paths in its source. */
export interface LoadedLayer {
  /** What the layer is and its text. */
  readonly layer: ManifestLayer;
  /** The value the layer sets at `at` (a whole manifest tree for files). */
  readonly value: unknown;
  /** The manifest path the value applies to: [] for files, the flag's path for --set. */
  readonly at: readonly PathSegment[];
  /** The location of `path` (a full manifest path) in this layer, or undefined when it is not there. */
  locate(path: readonly PathSegment[], target?: LocateTarget): SourceLocation | undefined;
  /** The raw text of the scalar at `path` in this layer, when it is a scalar of this layer. */
  scalar(path: readonly PathSegment[]): ScalarText | undefined;
}

/** The outcome of loading one layer: the layer when it parsed, and every problem found. */
export interface LoadResult {
  readonly layer: LoadedLayer | undefined;
  /** The text that was read (also when it did not parse), for code frames. */
  readonly text?: string | undefined;
  readonly errors: HendrixError[];
}

/** Options of parseManifestText. */
export interface ParseOptions {
  /** The kind of layer; default `base`. */
  type?: ManifestLayer['type'];
  /** Whether an empty document counts as an empty mapping (overlays); default false. */
  allowEmpty?: boolean;
}

/** Wraps a parsed YAML source as a file layer. */
export function fileLayer(layer: ManifestLayer, src: YamlSource, value: unknown): LoadedLayer {
  return {
    layer,
    value,
    at: [],
    locate: (path, target) => locateExact(src, path, target),
    scalar(path) {
      const found = scalarSource(src, path);
      if (!found) return undefined;
      return { raw: found.raw, toLocation: (offset, length) => offsetToLocation(src, found.start + offset, length ? found.start + offset + length : undefined) };
    },
  };
}

function describeNode(node: unknown): string {
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'null' : `${typeof node.value === 'string' ? 'the string' : 'the value'} ${JSON.stringify(node.value)}`;
  return 'something else';
}

/**
 * Parses one manifest text into a layer, collecting every YAML problem at once: syntax errors
 * (each with file:line:column), duplicate keys (at the second occurrence) and a root that is
 * not a mapping.
 */
export function parseManifestText(text: string, file: string, options: ParseOptions = {}): LoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, merge: true });
  const src: YamlSource = { file, text, doc, lineCounter };
  const errors: HendrixError[] = [];
  errors.push(...syntaxErrors(src));
  errors.push(...duplicateKeys(src));
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    if (!options.allowEmpty && errors.length === 0) {
      errors.push(
        new HendrixError('HX_ERR_NOT_A_MAP', {
          message: `${file} is empty; a manifest is a mapping with \`version\` and \`services\``,
          location: { file, line: 1, column: 1 },
        }),
      );
    }
  } else if (!isMap(contents)) {
    errors.push(
      new HendrixError('HX_ERR_NOT_A_MAP', {
        message: `the manifest must be a mapping (key: value), but ${file} holds ${describeNode(contents)}`,
        location: offsetToLocation(src, contents.range?.[0] ?? 0, contents.range?.[1]),
      }),
    );
  }
  let value: unknown = {};
  try {
    value = isMap(contents) ? doc.toJS({ maxAliasCount: 100 }) : {};
  } catch (cause) {
    errors.push(
      new HendrixError('HX_ERR_YAML_SYNTAX', {
        message: `invalid YAML: ${cause instanceof Error ? cause.message : String(cause)}`,
        location: { file, line: 1, column: 1 },
        cause,
      }),
    );
  }
  const layer: ManifestLayer = { type: options.type ?? 'base', file, source: text };
  return { layer: errors.length ? undefined : fileLayer(layer, src, value), text, errors };
}

/**
 * Reads and parses a manifest file. `file` is the name shown in messages (relative to the
 * working directory); a missing file is HX_ERR_MANIFEST_NOT_FOUND (hinting at a
 * hendrix.yaml.example beside it), or HX_ERR_OVERLAY_NOT_FOUND for an environment overlay; a
 * folder is HX_ERR_MANIFEST_READ, naming the manifest file inside it.
 */
export async function loadManifestFile(absPath: string, file: string, options: ParseOptions = {}): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(absPath, 'utf8');
  } catch (cause) {
    return { layer: undefined, errors: [readError(cause, absPath, file, options.type === 'env')] };
  }
  return parseManifestText(text.replace(/^\uFEFF/, ''), file, options);
}

/** Why a manifest file could not be read, with what to pass instead when that is clear. */
function readError(cause: unknown, absPath: string, file: string, isOverlay: boolean): HendrixError {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'EISDIR') {
    const inside = ['hendrix.yaml', 'hendrix.yaml.example'].find((name) => existsSync(join(absPath, name)));
    return new HendrixError('HX_ERR_MANIFEST_READ', {
      message: `\`${file}\` is a folder, not a manifest file`,
      hint: inside === undefined ? 'pass a manifest file with -f (this folder has no hendrix.yaml)' : `pass the manifest file: -f ${join(file, inside)}`,
    });
  }
  if (code === 'ENOENT' && isOverlay) return new HendrixError('HX_ERR_OVERLAY_NOT_FOUND', { message: `environment overlay not found: ${file}` });
  if (code === 'ENOENT') {
    // a checkout or a new project often has the example beside where the manifest would be
    const example = basename(absPath) === 'hendrix.yaml' && existsSync(`${absPath}.example`);
    const named = (name: string) => join(dirname(file), name);
    return new HendrixError('HX_ERR_MANIFEST_NOT_FOUND', {
      message: `manifest file not found: ${file}`,
      ...(example
        ? { hint: `this folder has hendrix.yaml.example: copy it to hendrix.yaml (cp ${named('hendrix.yaml.example')} ${named('hendrix.yaml')}) or run with -f ${named('hendrix.yaml.example')}` }
        : {}),
    });
  }
  return new HendrixError('HX_ERR_MANIFEST_READ', { message: `cannot read ${file}: ${(cause as Error).message}`, cause });
}
