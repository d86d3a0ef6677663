import { type Clock, nowMs, systemClock } from './clock.js';

/**
 * A map that cannot grow without bound: at most `max` entries, the least recently used
 * dropped first, and (with `ttlMs`) entries forgotten once older than that. For the
 * in-process memos of the Slack layer (permalinks, membership, per-user counters): what is
 * forgotten is only looked up or counted again, so a busy workspace costs memory in
 * proportion to `max`, not to how long the process has run.
 */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, { value: V; at: number }>();
  private readonly clock: Pick<Clock, 'now'>;

  constructor(
    private readonly o: { max: number; ttlMs?: number | undefined; clock?: Pick<Clock, 'now'> | undefined },
  ) {
    if (!(o.max >= 1)) throw new RangeError('BoundedMap needs max >= 1');
    this.clock = o.clock ?? systemClock;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.expired(entry.at)) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-inserted last: the map's order is the eviction order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  set(key: K, value: V): this {
    this.entries.delete(key);
    this.entries.set(key, { value, at: nowMs(this.clock) });
    while (this.entries.size > this.o.max) this.entries.delete(this.entries.keys().next().value as K);
    return this;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  private expired(at: number): boolean {
    return this.o.ttlMs !== undefined && nowMs(this.clock) - at >= this.o.ttlMs;
  }
}

/**
 * At most `limit` events per key in any `windowMs` (a sliding window), over a bounded
 * number of keys. `take(key)` is true when one more is allowed, and counts it.
 */
export class RateWindow {
  private readonly hits: BoundedMap<string, number[]>;
  private readonly clock: Pick<Clock, 'now'>;

  constructor(
    private readonly o: {
      limit: number;
      windowMs: number;
      maxKeys?: number;
      clock?: Pick<Clock, 'now'> | undefined;
    },
  ) {
    this.clock = o.clock ?? systemClock;
    this.hits = new BoundedMap({ max: o.maxKeys ?? 10_000, ttlMs: o.windowMs, clock: this.clock });
  }

  take(key: string): boolean {
    const now = nowMs(this.clock);
    const recent = (this.hits.get(key) ?? []).filter((at) => now - at < this.o.windowMs);
    if (recent.length >= this.o.limit) {
      this.hits.set(key, recent);
      return false;
    }
    recent.push(now);
    this.hits.set(key, recent);
    return true;
  }
}
