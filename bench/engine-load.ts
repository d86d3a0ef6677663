import type { Core } from '../src/bootstrap.js';

/**
 * How the engine child loads the engine: a burst (N runs started in the same instant) and a
 * steady state (N runs kept in flight: started evenly over one run's length, each finished
 * run replaced at once by a new one, for a fixed time).
 */

/** Resolves `ids` as they complete; `wait` resolves when every id of `expected` is done. */
function completions(core: Core) {
  const done = new Set<string>();
  const waiters: (() => void)[] = [];
  const listener = (e: { runId: string; to: string }) => {
    if (e.to !== 'completed') return;
    done.add(e.runId);
    for (const wake of waiters.splice(0)) wake();
  };
  core.engine.events.on('run.changed', listener);
  return {
    done,
    /** Resolves on the next completion. */
    next: () => new Promise<void>((resolve) => waiters.push(resolve)),
    off: () => core.engine.events.off('run.changed', listener),
  };
}

const startOne = (core: Core, label: string) =>
  core.engine.runs.startRun({ workflow: 'bench', input: label, startedBy: 'U0BENCH', trigger: 'api' });

/** Starts `count` runs at once and waits (at most `timeoutMs`) until all completed; their ids. */
export async function burst(core: Core, count: number, label: string, timeoutMs: number): Promise<string[]> {
  const c = completions(core);
  const deadline = Date.now() + timeoutMs;
  const ids = (
    await Promise.all(Array.from({ length: count }, (_, i) => startOne(core, `${label} ${i}`)))
  ).map((r) => r.id);
  while (ids.some((id) => !c.done.has(id)) && Date.now() < deadline) {
    await Promise.race([c.next(), new Promise((resolve) => setTimeout(resolve, deadline - Date.now()))]);
  }
  c.off();
  return ids;
}

/**
 * Keeps `count` runs in flight for `seconds`, then lets them finish (at most `timeoutMs`).
 * Returns the runs started after the ramp (those measured); `midway` runs once, halfway.
 */
export async function steady(
  core: Core,
  o: {
    count: number;
    seconds: number;
    rampMs: number;
    timeoutMs: number;
    midway: (inFlight: number) => void;
  },
): Promise<string[]> {
  const c = completions(core);
  const measured: string[] = [];
  const mine = new Set<string>();
  let inFlight = 0;
  let stopping = false;
  let n = 0;
  const rampEnd = Date.now() + o.rampMs;
  const start = () => {
    inFlight++;
    const counts = Date.now() >= rampEnd;
    void startOne(core, `steady ${n++}`).then(
      (run) => {
        mine.add(run.id);
        if (counts) measured.push(run.id);
        if (c.done.has(run.id)) finished(run.id);
      },
      () => inFlight--,
    );
  };
  const finished = (id: string) => {
    if (!mine.delete(id)) return;
    inFlight--;
    if (!stopping) start();
  };
  const onRun = (e: { runId: string; to: string }) => {
    if (e.to === 'completed') finished(e.runId);
  };
  core.engine.events.on('run.changed', onRun);
  // By the clock, not by timers: a saturated process runs its timers late.
  const until = (at: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
  const t0 = Date.now();
  for (let i = 0; i < o.count; i++) {
    const due = t0 + (i * o.rampMs) / o.count;
    if (due - Date.now() > 1) await until(due);
    start();
  }
  await until(rampEnd + (o.seconds * 1000) / 2);
  o.midway(inFlight);
  await until(rampEnd + o.seconds * 1000);
  stopping = true;
  const deadline = Date.now() + o.timeoutMs;
  while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  core.engine.events.off('run.changed', onRun);
  c.off();
  return measured;
}
