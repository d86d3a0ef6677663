import type { PrismaClient } from '../db/database.js';
import type { StepPlan } from '../engine/plan.js';
import { type PersonaSnapshot, readSnapshot } from '../engine/snapshot.js';
import {
  menuOptions,
  personasFor,
  type RunWithSteps,
  runView,
  stepView,
  tryPlan,
  type ViewContext,
} from './view-model.js';
import { fallbackNote } from './views/fallback-note.js';
import type { MenuOptions, RunView, StepView } from './views/model.js';

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
    private readonly prisma: PrismaClient,
    readonly ctx: ViewContext,
  ) {}

  async load(runId: string): Promise<LoadedRun | undefined> {
    const row = await this.prisma.workflowRun.findUnique({
      where: { id: runId },
      include: { steps: { orderBy: { position: 'asc' } } },
    });
    if (!row) return undefined;
    const snapshot = readSnapshot(row.snapshot);
    const snapshotPersonas = snapshot.personas;
    const [enabled, attempts] = await Promise.all([
      this.prisma.persona.findMany({
        where: { disabled: false },
        orderBy: { name: 'asc' },
        select: { id: true, name: true, system: true },
      }),
      row.steps.some((s) => s.status === 'completed')
        ? this.prisma.stepAttempt.findMany({
            where: { runId },
            orderBy: { number: 'asc' },
            select: {
              runStepId: true,
              number: true,
              provider: true,
              model: true,
              outcome: true,
              errorKind: true,
              startedAt: true,
            },
          })
        : Promise.resolve([]),
    ]);
    // A persona chosen from a card after the run started (possibly disabled since).
    const missing = row.steps
      .map((s) => s.overridePersonaId)
      .filter(
        (id): id is string => Boolean(id) && !snapshotPersonas[id!] && !enabled.some((p) => p.id === id),
      );
    const extra: PersonaSnapshot[] = [
      ...enabled,
      ...(missing.length > 0
        ? await this.prisma.persona.findMany({
            where: { id: { in: missing } },
            select: { id: true, name: true, system: true },
          })
        : []),
    ];
    const personas = personasFor(row, extra);
    const plans = new Map<string, StepPlan | undefined>();
    const steps = row.steps.map((step) => {
      const plan = tryPlan(snapshot, step, this.ctx, personas);
      plans.set(step.id, plan);
      // Only the step's latest execution: a retry after a switch from the card needs no excuse.
      const note = fallbackNote(
        attempts.filter((a) => a.runStepId === step.id),
        { since: step.startedAt },
      );
      return stepView(row, step, this.ctx, personas, { fallbackNote: note, plan: plan ?? null });
    });
    return { row, run: runView(row), steps, menus: menuOptions(this.ctx, enabled), plans };
  }
}
