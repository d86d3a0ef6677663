/**
 * The state machines of docs/architecture.md ("States") as tables. `moveRun` / `moveStep`
 * (and the approval moves) in src/db/run-store.ts are the only writers of status, and they
 * refuse anything not listed here.
 */

export const RUN_STATUSES = [
  'queued',
  'running',
  'paused',
  'awaiting_approval',
  'completed',
  'cancelled',
  'failed',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const STEP_STATUSES = [
  'pending',
  'running',
  'paused',
  'awaiting_approval',
  'completed',
  'skipped',
  'cancelled',
  'failed',
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const RUN_TRANSITIONS: Record<RunStatus, readonly RunStatus[]> = {
  queued: ['running', 'paused', 'cancelled'],
  running: ['paused', 'awaiting_approval', 'completed', 'cancelled', 'failed'],
  // Resume and retry go back to running; a paused run nobody rescues may be failed.
  paused: ['running', 'cancelled', 'failed'],
  // A gated step's output waits for a person (docs/control.md): approve → running,
  // reject → paused (the step can be switched and retried), cancel, or fail on timeout.
  awaiting_approval: ['running', 'paused', 'cancelled', 'failed'],
  completed: [],
  cancelled: [],
  failed: [],
};

export const STEP_TRANSITIONS: Record<StepStatus, readonly StepStatus[]> = {
  // pending → pending is how a card edit (override) bumps the version without moving.
  pending: ['running', 'skipped', 'cancelled', 'pending'],
  // running → pending hands an orphaned or interrupted step back (lease expired, shutdown).
  running: ['completed', 'awaiting_approval', 'paused', 'pending', 'cancelled', 'failed'],
  paused: ['pending', 'skipped', 'cancelled', 'failed', 'paused'],
  // Approve → completed; reject → paused; an edit of the output keeps the state (editStep).
  awaiting_approval: ['completed', 'paused', 'cancelled', 'failed'],
  completed: [],
  skipped: [],
  cancelled: [],
  failed: [],
};

export const TERMINAL_RUN: ReadonlySet<RunStatus> = new Set(['completed', 'cancelled', 'failed']);
export const TERMINAL_STEP: ReadonlySet<StepStatus> = new Set([
  'completed',
  'skipped',
  'cancelled',
  'failed',
]);
/** A card offers its provider/model and persona menus only in these states. */
export const EDITABLE_STEP: ReadonlySet<StepStatus> = new Set(['pending', 'paused']);
/** Runs that are over: their cards offer "Re-run from here…" (docs/control.md). */
export const RERUNNABLE_RUN: ReadonlySet<RunStatus> = TERMINAL_RUN;

/** The states a run or step may be in for a move to `to` to be allowed. */
export function runSourcesFor(to: RunStatus): RunStatus[] {
  return RUN_STATUSES.filter((from) => RUN_TRANSITIONS[from].includes(to));
}

export function stepSourcesFor(to: StepStatus): StepStatus[] {
  return STEP_STATUSES.filter((from) => STEP_TRANSITIONS[from].includes(to));
}

export function canMoveRun(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}

export function canMoveStep(from: StepStatus, to: StepStatus): boolean {
  return STEP_TRANSITIONS[from].includes(to);
}

/** What started a run. */
export const RUN_TRIGGERS = [
  'slash',
  'schedule',
  'button',
  'cli',
  'api',
  'shortcut',
  'workflow_step',
] as const;
export type Trigger = (typeof RUN_TRIGGERS)[number];
