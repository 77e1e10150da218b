import type { SourceLocation } from '../errors/hendrix-error.js';

/** An edge of the service graph: `from` depends on `to`. */
export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  /** What made the edge: `dependsOn` or the referring field (`serves`, `attach`...). */
  readonly via: string;
  /** Where the reference is written. */
  readonly location: SourceLocation | undefined;
}

/** The dependency graph of a manifest: a DAG, checked for cycles and unknown references. */
export interface Graph {
  /** Every service name, in manifest order. */
  readonly nodes: readonly string[];
  /** Every edge. */
  readonly edges: readonly GraphEdge[];
  /** The names a service depends on (deduplicated). */
  dependencies(name: string): readonly string[];
  /** The names that depend on a service. */
  dependents(name: string): readonly string[];
  /** A topological start order (dependencies first; ties in manifest order). */
  readonly order: readonly string[];
  /** The service names plus all their transitive dependencies, in start order. */
  closure(names: readonly string[]): string[];
}
