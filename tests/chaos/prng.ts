/**
 * A small seeded pseudo-random number generator (mulberry32) for the chaos run: the same seed gives the same
 * workload and fault schedule, so `CHAOS_SEED` replays a run. Not for anything secret.
 *
 * @module
 */

/** FNV-1a over a string: a 32-bit number to mix into a seed. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A mulberry32 generator. Every method advances the state; results depend only on the seed and the calls. */
export class Prng {
  #state: number;

  /** @param seed any integer; only its low 32 bits matter */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** A key of `weights` chosen with probability proportional to its weight (weights ≥ 0, not all 0). */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((n, [, w]) => n + w, 0);
    let r = this.next() * total;
    for (const [k, w] of entries) {
      r -= w;
      if (r < 0) return k;
    }
    return entries[entries.length - 1][0];
  }

  /**
   * An exponentially distributed number with the given mean (inter-arrival times of a Poisson process).
   */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /**
   * An independent generator for one purpose, derived from `seed` and `label`: adding draws to one stream (say,
   * the faults) never shifts another (the clients').
   */
  static stream(seed: number, label: string): Prng {
    return new Prng((seed ^ hash32(label)) >>> 0);
  }
}
