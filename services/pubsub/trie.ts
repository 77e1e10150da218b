/** A node of the subscription trie: one topic segment. */
interface TrieNode<T> {
  readonly children: Map<string, TrieNode<T>>;
  /** Subscribers whose pattern ends here. */
  readonly here: Set<T>;
  /** Subscribers whose pattern ends with `>` below this node. */
  readonly rest: Set<T>;
}

function node<T>(): TrieNode<T> {
  return { children: new Map(), here: new Set(), rest: new Set() };
}

/**
 * Subscriptions by pattern, matched against a topic segment by segment: the cost of a
 * publish grows with the depth of the topic and the wildcards on its path, not with the
 * number of subscriptions (a scan over every subscription is what this replaces).
 */
export class SubscriptionTrie<T> {
  readonly #root = node<T>();
  #size = 0;

  /** How many (pattern, subscriber) pairs are stored. */
  get size(): number {
    return this.#size;
  }

  /** Adds `subscriber` under a valid `pattern`; false when it was already there. */
  add(pattern: string, subscriber: T): boolean {
    const segments = pattern.split('.');
    let at = this.#root;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as string;
      if (segment === '>') {
        if (at.rest.has(subscriber)) return false;
        at.rest.add(subscriber);
        this.#size++;
        return true;
      }
      let next = at.children.get(segment);
      if (next === undefined) {
        next = node<T>();
        at.children.set(segment, next);
      }
      at = next;
    }
    if (at.here.has(subscriber)) return false;
    at.here.add(subscriber);
    this.#size++;
    return true;
  }

  /** Removes `subscriber` from `pattern`, pruning empty branches; false when it was not there. */
  remove(pattern: string, subscriber: T): boolean {
    const segments = pattern.split('.');
    const path: [TrieNode<T>, string][] = [];
    let at = this.#root;
    let removed = false;
    for (const segment of segments) {
      if (segment === '>') {
        removed = at.rest.delete(subscriber);
        break;
      }
      const next = at.children.get(segment);
      if (next === undefined) return false;
      path.push([at, segment]);
      at = next;
    }
    if (segments[segments.length - 1] !== '>') removed = at.here.delete(subscriber);
    if (!removed) return false;
    this.#size--;
    // prune from the leaf up while nodes are empty
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, segment] = path[i] as [TrieNode<T>, string];
      const child = parent.children.get(segment) as TrieNode<T>;
      if (child.children.size > 0 || child.here.size > 0 || child.rest.size > 0) break;
      parent.children.delete(segment);
    }
    return true;
  }

  /** Calls `visit` once per subscription whose pattern matches `topic` (a subscriber with two matching patterns is visited twice). */
  match(topic: string, visit: (subscriber: T) => void): void {
    this.#walk(this.#root, topic.split('.'), 0, visit);
  }

  #walk(at: TrieNode<T>, segments: readonly string[], index: number, visit: (subscriber: T) => void): void {
    if (index === segments.length) {
      for (const s of at.here) visit(s);
      return;
    }
    // `>` below this node matches one or more remaining segments
    for (const s of at.rest) visit(s);
    const exact = at.children.get(segments[index] as string);
    if (exact !== undefined) this.#walk(exact, segments, index + 1, visit);
    const star = at.children.get('*');
    if (star !== undefined) this.#walk(star, segments, index + 1, visit);
  }
}
