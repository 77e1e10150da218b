/**
 * A first-in first-out queue with O(1) push and shift: an array read from a moving head,
 * compacted when the consumed part dominates. Ours, not a pool library's: piscina's close()
 * rejects what waits in its queue, and nothing may be lost at stop.
 */
export class TaskQueue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** How many items wait. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Appends an item at the end. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** Takes the oldest item, or undefined when empty. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined; // let it be collected
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const out = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return out;
  }

  /** The waiting items, oldest first, without removing them. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T;
  }
}
