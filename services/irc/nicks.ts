import type { PathSegment } from '../../src/errors/hendrix-error.js';

/** A nick to try at registration, and where it comes from in the manifest (none: generated). */
export interface NickCandidate {
  readonly nick: string;
  readonly path: readonly PathSegment[] | undefined;
}

/** Suffixes of generated nicks, in the order they are tried. */
const SUFFIXES = ['_', '__', ...Array.from({ length: 18 }, (_, i) => String(i + 1))];

/**
 * The nicks a registration tries in turn: `nick`, each of `altNicks`, then generated ones
 * (nick_, nick__, nick1, nick2...) — irc-framework picks none by itself. When the server
 * refuses a generated nick as too long (432), the rest are cut to fit.
 */
export class NickChooser {
  readonly #configured: NickCandidate[];
  readonly #base: string;
  readonly #tried = new Set<string>();
  #index = 0;
  #suffix = 0;
  #maxLength = Infinity;
  #current: NickCandidate;

  constructor(nick: string, altNicks: readonly string[]) {
    this.#base = nick;
    this.#configured = [{ nick, path: ['nick'] }, ...altNicks.map((alt, i) => ({ nick: alt, path: ['altNicks', i] as PathSegment[] }))];
    this.#current = this.#configured[0] as NickCandidate;
    this.#tried.add(nick.toLowerCase());
  }

  /** The nick being tried now. */
  get current(): NickCandidate {
    return this.#current;
  }

  /** Every nick tried so far. */
  get tried(): string[] {
    return [...this.#tried];
  }

  /** The next nick to try after the current one was taken; undefined when none is left. */
  next(): NickCandidate | undefined {
    while (this.#index + 1 < this.#configured.length) {
      const candidate = this.#configured[++this.#index] as NickCandidate;
      if (this.#use(candidate)) return candidate;
    }
    while (this.#suffix < SUFFIXES.length) {
      const suffix = SUFFIXES[this.#suffix++] as string;
      const nick = `${this.#base.slice(0, Math.max(1, this.#maxLength - suffix.length))}${suffix}`;
      const candidate = { nick, path: undefined };
      if (this.#use(candidate)) return candidate;
    }
    return undefined;
  }

  /**
   * The server refused the current nick as erroneous: for a generated one, the following are
   * cut shorter and the next is returned; a configured one is the manifest's mistake (undefined).
   */
  refused(): NickCandidate | undefined {
    if (this.#current.path !== undefined) return undefined;
    this.#maxLength = Math.min(this.#maxLength, this.#current.nick.length - 1);
    if (this.#maxLength < 2) return undefined;
    this.#suffix = Math.max(0, this.#suffix - 1);
    return this.next();
  }

  #use(candidate: NickCandidate): boolean {
    const key = candidate.nick.toLowerCase();
    if (this.#tried.has(key)) return false;
    this.#tried.add(key);
    this.#current = candidate;
    return true;
  }
}
