import { describe, expect, it } from 'vitest';
import {
  canMoveRun,
  canMoveStep,
  EDITABLE_STEP,
  RUN_STATUSES,
  RUN_TRANSITIONS,
  STEP_STATUSES,
  STEP_TRANSITIONS,
  TERMINAL_RUN,
  TERMINAL_STEP,
} from '../../src/core/states.js';

describe('run state machine', () => {
  it('follows queued → running ⇄ paused → completed | cancelled', () => {
    expect(canMoveRun('queued', 'running')).toBe(true);
    expect(canMoveRun('running', 'paused')).toBe(true);
    expect(canMoveRun('paused', 'running')).toBe(true);
    expect(canMoveRun('running', 'completed')).toBe(true);
    expect(canMoveRun('paused', 'cancelled')).toBe(true);
    expect(canMoveRun('paused', 'completed')).toBe(false);
    expect(canMoveRun('queued', 'completed')).toBe(false);
  });

  it('waits for approval after running, then goes on, pauses on a rejection, or ends', () => {
    expect(canMoveRun('running', 'awaiting_approval')).toBe(true);
    expect(canMoveRun('awaiting_approval', 'running')).toBe(true);
    expect(canMoveRun('awaiting_approval', 'paused')).toBe(true);
    expect(canMoveRun('awaiting_approval', 'cancelled')).toBe(true);
    expect(canMoveRun('awaiting_approval', 'failed')).toBe(true);
    expect(canMoveRun('awaiting_approval', 'completed')).toBe(false);
    expect(canMoveRun('queued', 'awaiting_approval')).toBe(false);
    expect(canMoveRun('paused', 'awaiting_approval')).toBe(false);
  });

  it('never leaves a finished state', () => {
    for (const from of TERMINAL_RUN) {
      for (const to of RUN_STATUSES) expect(canMoveRun(from, to)).toBe(false);
    }
  });

  it('lists only known states', () => {
    for (const targets of Object.values(RUN_TRANSITIONS)) {
      for (const to of targets) expect(RUN_STATUSES).toContain(to);
    }
  });
});

describe('step state machine', () => {
  it('runs pending → running → completed, and retry moves paused → pending', () => {
    expect(canMoveStep('pending', 'running')).toBe(true);
    expect(canMoveStep('running', 'completed')).toBe(true);
    expect(canMoveStep('running', 'paused')).toBe(true);
    expect(canMoveStep('paused', 'pending')).toBe(true);
    expect(canMoveStep('paused', 'running')).toBe(false);
    expect(canMoveStep('pending', 'completed')).toBe(false);
  });

  it('an answered gated step waits for approval: approve completes it, reject pauses it for a retry', () => {
    expect(canMoveStep('running', 'awaiting_approval')).toBe(true);
    expect(canMoveStep('awaiting_approval', 'completed')).toBe(true);
    expect(canMoveStep('awaiting_approval', 'paused')).toBe(true);
    expect(canMoveStep('awaiting_approval', 'cancelled')).toBe(true);
    expect(canMoveStep('awaiting_approval', 'failed')).toBe(true);
    // It never runs again without a rejection first, and a waiting step is not a pending one.
    expect(canMoveStep('awaiting_approval', 'running')).toBe(false);
    expect(canMoveStep('awaiting_approval', 'pending')).toBe(false);
    expect(canMoveStep('pending', 'awaiting_approval')).toBe(false);
    expect(canMoveStep('completed', 'awaiting_approval')).toBe(false);
  });

  it('a completed step can never run again', () => {
    for (const from of TERMINAL_STEP) {
      for (const to of STEP_STATUSES) expect(canMoveStep(from, to)).toBe(false);
    }
    expect(STEP_TRANSITIONS.completed).toEqual([]);
  });

  it('offers menus only while pending or paused', () => {
    expect([...EDITABLE_STEP].sort()).toEqual(['paused', 'pending']);
  });

  it('lists only known states', () => {
    for (const targets of Object.values(STEP_TRANSITIONS)) {
      for (const to of targets) expect(STEP_STATUSES).toContain(to);
    }
    expect(Object.keys(STEP_TRANSITIONS).sort()).toEqual([...STEP_STATUSES].sort());
    expect(Object.keys(RUN_TRANSITIONS).sort()).toEqual([...RUN_STATUSES].sort());
  });
});
