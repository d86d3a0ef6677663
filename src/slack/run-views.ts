import { addCost, NO_COST } from '../core/cost.js';
import type { RunWithSteps } from '../db/run-reads.js';
import type { Stores } from '../db/stores.js';
import type { StepPlan } from '../engine/plan.js';
import { type PersonaSnapshot, readSnapshot } from '../engine/snapshot.js';
import {
  menuOptions,
  personasFor,
  runView,
  stepView,
  tryPlan,
  usageOfAttempts,
  type ViewContext,
} from './view-model.js';
import { fallbackNote } from './views/fallback-note.js';
import type { MenuOptions, RunView, ScheduleName, StepView } from './views/model.js';

/** One run as the Slack views see it, read fresh from the database (the source of truth). */
export interface LoadedRun {
  row: RunWithSteps;
  run: RunView;
  steps: StepView[];
  menus: MenuOptions;
  /** The engine's plan per step id (undefined when no provider can serve it). */
  plans: Map<string, StepPlan | undefined>;
}

/** Reads a run with everything its messages show. */
export class RunViews {
  constructor(
    private readonly stores: Pick<Stores, 'reads' | 'workflows'> & Partial<Pick<Stores, 'schedules'>>,
    readonly ctx: ViewContext,
  ) {}

  async load(runId: string): Promise<LoadedRun | undefined> {
    const row = await this.stores.reads.runWithSteps(runId);
    if (!row) return undefined;
    const snapshot = readSnapshot(row.snapshot);
    const snapshotPersonas = snapshot.personas;
    const [enabled, attempts, rerunOfNumber] = await Promise.all([
      this.stores.workflows.personas(),
      row.steps.some((s) => s.attempts > 0) ? this.stores.reads.attemptsOf(runId) : Promise.resolve([]),
      row.rerunOfId ? this.stores.reads.runNumber(row.rerunOfId) : Promise.resolve(undefined),
    ]);
    // A persona chosen from a card after the run started (possibly disabled since).
    const missing = row.steps
      .map((s) => s.overridePersonaId)
      .filter(
        (id): id is string => Boolean(id) && !snapshotPersonas[id!] && !enabled.some((p) => p.id === id),
      );
    const extra: PersonaSnapshot[] = [...enabled, ...(await this.stores.workflows.personasById(missing))];
    const personas = personasFor(row, extra);
    const plans = new Map<string, StepPlan | undefined>();
    const steps = row.steps.map((step) => {
      const plan = tryPlan(snapshot, step, this.ctx, personas);
      plans.set(step.id, plan);
      // Only the step's latest execution: a retry after a switch from the card needs no excuse.
      const own = attempts.filter((a) => a.runStepId === step.id);
      const note = fallbackNote(own, { since: step.startedAt });
      const answered = own.filter((a) => a.outcome === 'success');
      const cost = answered.length > 0 ? answered.reduce((t, a) => addCost(t, a.costUsd), NO_COST) : null;
      return stepView(row, step, this.ctx, personas, { fallbackNote: note, plan: plan ?? null, cost });
    });
    const run = {
      ...runView(row, { usage: usageOfAttempts(attempts), rerunOfNumber }),
      schedule: await this.schedule(row.startedBy),
    };
    return { row, run, steps, menus: menuOptions(this.ctx, enabled), plans };
  }

  /** The schedule that started a run, named as `/workflow schedule list` does (null: removed). */
  private async schedule(startedBy: string): Promise<ScheduleName | null | undefined> {
    if (!startedBy.startsWith('schedule:') || !this.stores.schedules) return undefined;
    const row = await this.stores.schedules
      .find({ id: startedBy.slice('schedule:'.length) })
      .catch(() => null);
    return row
      ? { number: row.number, workflow: row.workflow.name, cron: row.cron, timezone: row.timezone }
      : null;
  }
}
