import { RUN_STATUSES, type RunStatus, STEP_STATUSES, type StepStatus } from '../core/states.js';

/**
 * State names for hand-written SQL, taken from the state tables (src/core/states.ts) and
 * cast to their enum types, so a statement can never name a state that does not exist.
 */

export function runState(status: RunStatus): string {
  if (!RUN_STATUSES.includes(status)) throw new Error(`not a run state: ${status}`);
  return `'${status}'::"RunStatus"`;
}

export function stepState(status: StepStatus): string {
  if (!STEP_STATUSES.includes(status)) throw new Error(`not a step state: ${status}`);
  return `'${status}'::"StepStatus"`;
}
