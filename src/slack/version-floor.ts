/**
 * The highest version this process has seen of each step, with the step's run. A step's
 * version only grows, so a card that shows an older one is out of date whatever happened
 * since, on any replica: the click can be refused without reading the database (a double
 * click, a menu used again before its redraw arrived, many people on one shared card). A
 * version at or above the floor is checked against the database as before.
 *
 * Bounded: past `max` steps the least recently raised floor is forgotten, which only means
 * its next stale click is checked against the database again.
 */
export class VersionFloor {
  private readonly seen = new Map<string, { version: number; runId: string }>();

  constructor(private readonly max = 10_000) {}

  /** The step was read at `version`. */
  note(step: { id: string; runId: string; version: number }): void {
    const had = this.seen.get(step.id);
    if (had && had.version >= step.version) return;
    this.seen.delete(step.id); // re-inserted last: the map's order is the eviction order
    this.seen.set(step.id, { version: step.version, runId: step.runId });
    if (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value!);
  }

  /** The step's run when a card showing `version` of it is known to be out of date. */
  staleRun(stepId: string, version: number): string | undefined {
    const had = this.seen.get(stepId);
    return had && version < had.version ? had.runId : undefined;
  }
}
