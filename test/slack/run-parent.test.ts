import { describe, expect, it } from 'vitest';
import { PARENT_READ_EVERY_MS, whenParentPosted } from '../../src/slack/run-parent.js';

/**
 * One wait for a run's parent message (src/slack/run-parent.ts), used by the failure alert,
 * live output and the re-run link: this process's publisher tells at once; a parent another
 * process posted is read from the run between waits of at most a second.
 */
function harness(o: { postedHereAfterMs?: number; postedElsewhereAfterMs?: number } = {}) {
  let t = 0;
  const waits: number[] = [];
  const reads: number[] = [];
  const publisher = {
    whenPosted: async (key: string, timeoutMs = 30_000) => {
      expect(key).toBe('run:run1');
      waits.push(timeoutMs);
      const here = o.postedHereAfterMs;
      if (here !== undefined && t + timeoutMs >= here) {
        t = Math.max(t, here);
        return '1700000000.000100';
      }
      t += timeoutMs;
      return undefined;
    },
  };
  const readThread = async (runId: string) => {
    expect(runId).toBe('run1');
    reads.push(t);
    const there = o.postedElsewhereAfterMs;
    return { threadTs: there !== undefined && t >= there ? '1700000000.000200' : null };
  };
  const clock = { now: () => new Date(t) };
  return { publisher, readThread, clock, waits, reads, at: () => t };
}

describe('waiting for a run’s parent message', () => {
  it('posted by this process: the publisher’s word, without reading the run', async () => {
    const h = harness({ postedHereAfterMs: 300 });
    expect(await whenParentPosted(h, 'run1', 15_000)).toBe('1700000000.000100');
    expect(h.reads).toEqual([]);
    expect(h.at()).toBe(300);
  });

  it('posted by another process: read from the run within a second of it, not at the end of the wait', async () => {
    const h = harness({ postedElsewhereAfterMs: 2_500 });
    expect(await whenParentPosted(h, 'run1', 15_000)).toBe('1700000000.000200');
    expect(h.waits.every((ms) => ms <= PARENT_READ_EVERY_MS)).toBe(true);
    expect(h.at()).toBe(3_000);
  });

  it('never posted: undefined once the whole wait is spent, and no longer', async () => {
    const h = harness();
    expect(await whenParentPosted(h, 'run1', 2_500)).toBeUndefined();
    expect(h.waits).toEqual([1_000, 1_000, 500]);
    expect(h.at()).toBe(2_500);
  });

  it('a caller that stopped ends the wait at its next read', async () => {
    const h = harness();
    let stopped = false;
    const wait = whenParentPosted({ ...h, closed: () => stopped }, 'run1', 15_000);
    stopped = true;
    expect(await wait).toBeUndefined();
    expect(h.reads).toHaveLength(1);
  });
});
