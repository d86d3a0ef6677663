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

  it('a completed step can never run again', () => {
    for (const from of TERMINAL_STEP) {
      for (const to of STEP_STATUSES) expect(canMoveStep(from, to)).toBe(false);
    }
    expect(STEP_TRANSITIONS.completed).toEqual([]);
  });

  it('offers menus only while pending or paused', () => {
    expect([...EDITABLE_STEP].sort()).toEqual(['paused', 'pending']);
  });
});
