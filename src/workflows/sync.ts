import { join } from 'node:path';
import type { PrismaClient } from '../db/database.js';
import { Prisma, type Workflow, type WorkflowStep } from '../db/generated/client.js';
import type { PersonaDefinition, WorkflowDefinition } from './types.js';

/**
 * Makes the database match the workflow files, in one transaction: personas and workflows
 * upserted by name, each workflow's steps recreated to match its file, `version` bumped
 * only when the definition changed. A workflow whose file vanished is disabled, never
 * deleted: its runs keep their history (WorkflowRun → Workflow is ON DELETE RESTRICT).
 */

export interface SyncInput {
  workflows: readonly WorkflowDefinition[];
  personas: readonly PersonaDefinition[];
  /** The workflows folder; file paths default to <sourceDir>/<name>.yml and personas.yml. */
  sourceDir: string;
  /** Exact files, as LoadResult.sources gives them. */
  sources?: { personas?: string | undefined; workflows?: Readonly<Record<string, string>> } | undefined;
}

export interface SyncCounts {
  created: string[];
  updated: string[];
  unchanged: string[];
  disabled: string[];
  /** Were disabled (their file had vanished) and are back. */
  enabled: string[];
}

export interface SyncSummary extends SyncCounts {
  personas: SyncCounts;
}

/** Only file-sourced workflows are ours to disable; ones made elsewhere (e.g. Slack) are left alone. */
const FILE_SOURCE = 'file';
// Two replicas starting together must not race on the unique names.
const SYNC_LOCK_ID = 72707371;

type Tx = Prisma.TransactionClient;

export async function syncWorkflows(prisma: PrismaClient, input: SyncInput): Promise<SyncSummary> {
  return prisma.$transaction(
    async (tx) => {
      await tx.$queryRawUnsafe(`SELECT 1 AS locked FROM pg_advisory_xact_lock(${SYNC_LOCK_ID})`);
      const personaFile = input.sources?.personas ?? join(input.sourceDir, 'personas.yml');
      const personas = await syncPersonas(tx, input.personas, `file:${personaFile}`);
      const ids = await personaIds(tx, input.workflows);
      const summary: SyncSummary = { ...emptyCounts(), personas };
      for (const definition of input.workflows) {
        const file =
          input.sources?.workflows?.[definition.name] ?? join(input.sourceDir, `${definition.name}.yml`);
        const outcome = await syncWorkflow(tx, definition, file, ids);
        summary[outcome].push(definition.name);
      }
      const gone = await tx.workflow.findMany({
        where: { enabled: true, source: FILE_SOURCE, name: { notIn: input.workflows.map((w) => w.name) } },
        select: { name: true },
      });
      if (gone.length > 0) {
        await tx.workflow.updateMany({
          where: { name: { in: gone.map((w) => w.name) } },
          data: { enabled: false },
        });
        summary.disabled.push(...gone.map((w) => w.name));
      }
      return summary;
    },
    { maxWait: 10_000, timeout: 60_000 },
  );
}

async function syncPersonas(
  tx: Tx,
  personas: readonly PersonaDefinition[],
  source: string,
): Promise<SyncCounts> {
  const counts = emptyCounts();
  const existing = new Map(
    (await tx.persona.findMany({ where: { name: { in: personas.map((p) => p.name) } } })).map((p) => [
      p.name,
      p,
    ]),
  );
  for (const p of personas) {
    const row = existing.get(p.name);
    const data = { description: p.description, system: p.system, source, disabled: false };
    if (!row) {
      await tx.persona.create({ data: { name: p.name, ...data } });
      counts.created.push(p.name);
    } else if (
      row.description !== p.description ||
      row.system !== p.system ||
      row.source !== source ||
      row.disabled
    ) {
      await tx.persona.update({ where: { id: row.id }, data });
      counts[row.disabled ? 'enabled' : 'updated'].push(p.name);
    } else {
      counts.unchanged.push(p.name);
    }
  }
  const gone = await tx.persona.findMany({
    where: { disabled: false, source: { startsWith: 'file:' }, name: { notIn: personas.map((p) => p.name) } },
    select: { name: true },
  });
  if (gone.length > 0) {
    await tx.persona.updateMany({
      where: { name: { in: gone.map((p) => p.name) } },
      data: { disabled: true },
    });
    counts.disabled.push(...gone.map((p) => p.name));
  }
  return counts;
}

async function personaIds(tx: Tx, workflows: readonly WorkflowDefinition[]): Promise<Map<string, string>> {
  const names = new Set(workflows.flatMap((w) => [w.persona, ...w.steps.map((s) => s.persona)]));
  names.delete(undefined);
  const rows = await tx.persona.findMany({
    where: { name: { in: [...names] as string[] } },
    select: { id: true, name: true },
  });
  const ids = new Map(rows.map((r) => [r.name, r.id]));
  for (const name of names) {
    // The loader refuses unknown personas, so this is a caller that skipped it.
    if (name && !ids.has(name)) throw new Error(`Cannot sync workflows: persona "${name}" is not defined`);
  }
  return ids;
}

type StepRow = Omit<WorkflowStep, 'id' | 'workflowId' | 'fallbacks' | 'retry'> & {
  fallbacks: Prisma.InputJsonValue;
  retry: Prisma.InputJsonValue | null;
};

async function syncWorkflow(
  tx: Tx,
  definition: WorkflowDefinition,
  sourcePath: string,
  ids: Map<string, string>,
): Promise<'created' | 'updated' | 'unchanged' | 'enabled'> {
  const json = toJson(definition);
  const steps = stepRows(definition, ids);
  const columns = {
    description: definition.description,
    personaId: definition.persona ? ids.get(definition.persona)! : null,
    provider: definition.provider ?? null,
    model: definition.model ?? null,
    notify: definition.notify ?? null,
    owners: definition.owners,
    fallbacks: toJson(definition.fallbacks),
    retry: definition.retry ? toJson(definition.retry) : Prisma.DbNull,
    definition: json,
    source: FILE_SOURCE,
    sourcePath,
  };
  const existing = await tx.workflow.findUnique({
    where: { name: definition.name },
    include: { steps: { orderBy: { position: 'asc' } } },
  });
  if (!existing) {
    await tx.workflow.create({
      data: { name: definition.name, ...columns, steps: { create: steps.map(forCreate) } },
    });
    return 'created';
  }

  const changed = canonical(existing.definition) !== canonical(json);
  const stepsDiffer = !sameSteps(existing.steps, steps);
  const rowDiffers =
    !existing.enabled ||
    existing.personaId !== columns.personaId ||
    existing.sourcePath !== sourcePath ||
    existing.source !== FILE_SOURCE;
  if (changed || rowDiffers) {
    await tx.workflow.update({
      where: { id: existing.id },
      data: { ...columns, enabled: true, ...(changed ? { version: { increment: 1 } } : {}) },
    });
  }
  if (changed || stepsDiffer) {
    await tx.workflowStep.deleteMany({ where: { workflowId: existing.id } });
    await tx.workflowStep.createMany({
      data: steps.map((s) => ({ ...forCreate(s), workflowId: existing.id })),
    });
  }
  if (!existing.enabled) return 'enabled';
  return changed ? 'updated' : 'unchanged';
}

function stepRows(definition: WorkflowDefinition, ids: Map<string, string>): StepRow[] {
  return definition.steps.map((s, position) => ({
    position,
    name: s.name,
    prompt: s.prompt,
    provider: s.provider ?? null,
    model: s.model ?? null,
    personaId: s.persona ? ids.get(s.persona)! : null,
    fallbacks: toJson(s.fallbacks),
    retry: s.retry ? toJson(s.retry) : null,
    timeoutSeconds: s.timeoutSeconds ?? null,
  }));
}

function forCreate(row: StepRow) {
  return { ...row, retry: row.retry ?? Prisma.DbNull };
}

function sameSteps(existing: WorkflowStep[], wanted: StepRow[]): boolean {
  if (existing.length !== wanted.length) return false;
  return wanted.every((w, i) => {
    const e = existing[i]!;
    return (
      e.position === w.position &&
      e.name === w.name &&
      e.prompt === w.prompt &&
      e.provider === w.provider &&
      e.model === w.model &&
      e.personaId === w.personaId &&
      e.timeoutSeconds === w.timeoutSeconds &&
      canonical(e.fallbacks) === canonical(w.fallbacks) &&
      canonical(e.retry) === canonical(w.retry)
    );
  });
}

/** Plain JSON (undefined fields dropped), as the database will hand it back. */
function toJson(value: unknown): Prisma.InputJsonValue {
  return JSON.parse(JSON.stringify(value)) as Prisma.InputJsonValue;
}

/** Key-order-independent JSON: PostgreSQL's jsonb does not keep the order keys were written in. */
function canonical(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

function emptyCounts(): SyncCounts {
  return { created: [], updated: [], unchanged: [], disabled: [], enabled: [] };
}

export interface PersonaRef {
  id: string;
  name: string;
  system: string;
}

export interface StoredWorkflow {
  workflow: Workflow & { steps: WorkflowStep[] };
  definition: WorkflowDefinition;
  /** Every persona the definition names, by name. */
  personas: Map<string, PersonaRef>;
}

/**
 * A workflow as the engine snapshots it. Null when there is none by that name, or when it
 * is disabled (its file was removed) unless `includeDisabled`.
 */
export async function loadWorkflowFromDb(
  prisma: PrismaClient,
  name: string,
  options: { includeDisabled?: boolean } = {},
): Promise<StoredWorkflow | null> {
  const workflow = await prisma.workflow.findUnique({
    where: { name },
    include: { steps: { orderBy: { position: 'asc' } } },
  });
  if (!workflow || (!workflow.enabled && !options.includeDisabled)) return null;
  const definition = workflow.definition as unknown as WorkflowDefinition;
  const names = [definition.persona, ...definition.steps.map((s) => s.persona)].filter(
    (n): n is string => typeof n === 'string',
  );
  const rows = await prisma.persona.findMany({
    where: { name: { in: [...new Set(names)] } },
    select: { id: true, name: true, system: true },
  });
  return { workflow, definition, personas: new Map(rows.map((r) => [r.name, r])) };
}

export interface WorkflowSummary {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  version: number;
  steps: number;
  persona: string | null;
  provider: string | null;
  model: string | null;
  notify: string | null;
  sourcePath: string | null;
}

/** Workflows by name, for `/workflow list` and the CLI; disabled ones only when asked. */
export async function listWorkflows(
  prisma: PrismaClient,
  options: { includeDisabled?: boolean } = {},
): Promise<WorkflowSummary[]> {
  const rows = await prisma.workflow.findMany({
    where: options.includeDisabled ? {} : { enabled: true },
    orderBy: { name: 'asc' },
    include: { persona: { select: { name: true } }, _count: { select: { steps: true } } },
  });
  return rows.map((w) => ({
    id: w.id,
    name: w.name,
    description: w.description,
    enabled: w.enabled,
    version: w.version,
    steps: w._count.steps,
    persona: w.persona?.name ?? null,
    provider: w.provider,
    model: w.model,
    notify: w.notify,
    sourcePath: w.sourcePath,
  }));
}
