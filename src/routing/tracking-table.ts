/**
 * The requests of one object and direction in flight, by tracking number (0–65 535): an
 * open-addressed table (linear probing, deletion by shifting back, so no tombstones) that
 * allocates only when it grows. A JS Map with entries added and deleted all the time rehashes
 * into a new backing table every few dozen operations, and each table it drops lies in old
 * space pointing at its successor, which a scavenge must then keep and copy: the tracker's
 * Maps were half of what survived each scavenge under tcp-rr, and its pauses follow what
 * survives (issue 14, p99).
 */
export class TrackingTable<T extends { readonly tracking: number }> {
  #slots: Array<T | undefined>;
  #mask: number;
  /** 32 − log2(capacity): home() keeps the hash's top bits. */
  #shift: number;
  #size = 0;

  constructor(capacity = 8) {
    let c = 8;
    while (c < capacity) c *= 2;
    this.#slots = new Array<T | undefined>(c).fill(undefined);
    this.#mask = c - 1;
    this.#shift = 32 - Math.log2(c);
  }

  get size(): number {
    return this.#size;
  }

  /** Slots allocated (a power of two, at least twice the size). */
  get capacity(): number {
    return this.#slots.length;
  }

  get(tracking: number): T | undefined {
    const slots = this.#slots;
    const mask = this.#mask;
    for (let i = home(tracking, this.#shift); ; i = (i + 1) & mask) {
      const x = slots[i];
      if (x === undefined || x.tracking === tracking) return x;
    }
  }

  has(tracking: number): boolean {
    return this.get(tracking) !== undefined;
  }

  /** Adds `item`; its tracking number must not be in the table. */
  add(item: T): void {
    if ((this.#size + 1) * 2 > this.#slots.length) this.#grow();
    this.#place(item);
    this.#size++;
  }

  /** Removes the entry of `tracking`, if any; what it held. */
  delete(tracking: number): T | undefined {
    const slots = this.#slots;
    const mask = this.#mask;
    const shift = this.#shift;
    let i = home(tracking, shift);
    for (;;) {
      const x = slots[i];
      if (x === undefined) return undefined;
      if (x.tracking === tracking) break;
      i = (i + 1) & mask;
    }
    const gone = slots[i];
    // Shift back what follows in the run, so that every entry stays reachable from its home slot.
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const x = slots[j];
      if (x === undefined) break;
      // x may fill the hole when its home is not in (hole, j], cyclically: it is at least as far from its home as the hole is.
      if (((j - home(x.tracking, shift)) & mask) >= ((j - hole) & mask)) {
        slots[hole] = x;
        hole = j;
      }
    }
    slots[hole] = undefined;
    this.#size--;
    return gone;
  }

  /** The entries, in no particular order (a copy: safe to settle them while walking it). */
  values(): T[] {
    const out: T[] = [];
    for (const x of this.#slots) if (x !== undefined) out.push(x);
    return out;
  }

  #place(item: T): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let i = home(item.tracking, this.#shift);
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = item;
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Array<T | undefined>(old.length * 2).fill(undefined);
    this.#mask = this.#slots.length - 1;
    this.#shift--;
    for (const x of old) if (x !== undefined) this.#place(x);
  }
}

/** Fibonacci hashing (the product's top bits): tracking numbers come in runs (slots 0…31 of a client), which it spreads. */
function home(tracking: number, shift: number): number {
  return Math.imul(tracking, 0x9e3779b1) >>> shift;
}
