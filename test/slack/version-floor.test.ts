import { describe, expect, it } from 'vitest';
import { VersionFloor } from '../../src/slack/version-floor.js';

describe('VersionFloor', () => {
  it('knows a card is stale only below a version it has seen', () => {
    const floor = new VersionFloor();
    expect(floor.staleRun('s1', 0)).toBeUndefined(); // never seen: ask the database
    floor.note({ id: 's1', runId: 'r1', version: 3 });
    expect(floor.staleRun('s1', 2)).toBe('r1');
    expect(floor.staleRun('s1', 0)).toBe('r1');
    expect(floor.staleRun('s1', 3)).toBeUndefined(); // current as far as we know: ask the database
    expect(floor.staleRun('s1', 4)).toBeUndefined();
    expect(floor.staleRun('s2', 0)).toBeUndefined();
  });

  it('only ever raises a floor: an older read never lowers it', () => {
    const floor = new VersionFloor();
    floor.note({ id: 's1', runId: 'r1', version: 5 });
    floor.note({ id: 's1', runId: 'r1', version: 2 });
    expect(floor.staleRun('s1', 4)).toBe('r1');
    floor.note({ id: 's1', runId: 'r1', version: 7 });
    expect(floor.staleRun('s1', 6)).toBe('r1');
  });

  it('forgets the least recently raised step past its bound', () => {
    const floor = new VersionFloor(2);
    floor.note({ id: 'a', runId: 'r', version: 1 });
    floor.note({ id: 'b', runId: 'r', version: 1 });
    floor.note({ id: 'a', runId: 'r', version: 2 }); // raised: now the most recent
    floor.note({ id: 'c', runId: 'r', version: 1 }); // 'b' goes
    expect(floor.staleRun('a', 1)).toBe('r');
    expect(floor.staleRun('b', 0)).toBeUndefined();
    expect(floor.staleRun('c', 0)).toBe('r');
  });
});
