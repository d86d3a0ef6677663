import { join } from 'node:path';
import type { PersonaDefinition, WorkflowDefinition } from '../core/workflow-definition.js';
import type { PrismaClient, SqlQuery } from './database.js';
import type { Workflow } from './generated/client.js';
import {
  canonical,
  contentHash,
  definitionColumns,
  fileOrigin,
  forCreate,
  personaIds,
  recordVersion,
  replaceSteps,
  sameSteps,
  slackOrigin,
  stepRows,
  type Tx,
  toJson,
} from './workflow-rows.js';

/**
 * Makes the database match the workflow files, in one transaction: personas and workflows
 * upserted by name, each workflow's steps recreated to match its file, `version` bumped
 * (and a WorkflowVersion row written) only when the definition changed. A workflow whose
 * file vanished is disabled, never deleted: its runs keep their history (WorkflowRun →
 * Workflow is ON DELETE RESTRICT).
 *
 * Which wins between a file and an edit made in Slack (docs/authoring.md) — the newest
 * change wins:
 * - an edit in Slack marks the workflow `source = "slack"`; the sync then leaves it alone
 *   (it is reported as `kept`) for as long as its file's definition hashes the same as the
 *   one last imported (`fileHash`), and also when the file is removed;
 * - once the file itself changes, the file is the newer change: it is imported as a new
 *   version (source "file:<path>") and the workflow belongs to the file again.
 * Personas follow the same rule, per entry of personas.yml.
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
  /** Edited in Slack since their file was last imported, and the file has not changed: left alone. */
  kept: string[];
}

export interface SyncSummary extends SyncCounts {
  personas: SyncCounts;
}

/** The file sync owns these; anything else (e.g. "slack", edited in Slack) it leaves alone. */
export const FILE_SOURCE = 'file';
/** Workflow.source after an edit in Slack. */
export const SLACK_SOURCE = 'slack';
/** Who wrote a version that came from a file. */
export const FILE_ACTOR = 'file';
// Two replicas starting together must not race on the unique names; Slack edits take it too.
export const SYNC_LOCK_ID = 72707371;

const generations = new WeakMap<PrismaClient, number>();

/**
 * A definition write (file sync, Slack edit, persona edit): one transaction that first takes
 * the definitions lock, so writes are serialised across processes. Once it ends, this
 * process's readers that keep definitions in memory (the workflow list) see a new
 * `definitionsGeneration`; other processes' writes reach them through their own expiry.
 */
export async function writeDefinitions<T>(
  prisma: PrismaClient,
  write: (tx: Tx) => Promise<T>,
  timeoutMs = 30_000,
): Promise<T> {
  try {
    return await prisma.$transaction(
      async (tx) => {
        await tx.$queryRawUnsafe(`SELECT 1 AS locked FROM pg_advisory_xact_lock(${SYNC_LOCK_ID})`);
        return write(tx);
      },
      { maxWait: 10_000, timeout: timeoutMs },
    );
  } finally {
    generations.set(prisma, definitionsGeneration(prisma) + 1);
  }
}

/** Moves on each definition write this process makes through `prisma`. */
export function definitionsGeneration(prisma: PrismaClient): number {
  return generations.get(prisma) ?? 0;
}

export async function syncWorkflows(prisma: PrismaClient, input: SyncInput): Promise<SyncSummary> {
  return writeDefinitions(
    prisma,
    async (tx) => {
      const personaFile = input.sources?.personas ?? join(input.sourceDir, 'personas.yml');
      const personas = await syncPersonas(tx, input.personas, fileOrigin(personaFile));
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
    60_000,
  );
}

/** A persona edited or made in Slack has source "slack:<user>"; from a file, "file:<path>". */
const editedInSlack = (source: string) => source.startsWith('slack:');

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
    const fileHash = contentHash({ name: p.name, description: p.description, system: p.system });
    const data = { description: p.description, system: p.system, source, disabled: false, fileHash };
    if (!row) {
      await tx.persona.create({ data: { name: p.name, ...data } });
      counts.created.push(p.name);
    } else if (editedInSlack(row.source) && !row.disabled && row.fileHash === fileHash) {
      counts.kept.push(p.name);
    } else if (
      row.description !== p.description ||
      row.system !== p.system ||
      row.source !== source ||
      row.disabled
    ) {
      await tx.persona.update({ where: { id: row.id }, data });
      counts[row.disabled ? 'enabled' : 'updated'].push(p.name);
    } else {
      // Same content; a row from before fileHash existed only learns its hash.
      if (row.fileHash !== fileHash) await tx.persona.update({ where: { id: row.id }, data: { fileHash } });
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

async function syncWorkflow(
  tx: Tx,
  definition: WorkflowDefinition,
  sourcePath: string,
  ids: Map<string, string>,
): Promise<'created' | 'updated' | 'unchanged' | 'enabled' | 'kept'> {
  const json = toJson(definition);
  const fileHash = contentHash(definition);
  const steps = stepRows(definition, ids);
  const columns = { ...definitionColumns(definition, ids), source: FILE_SOURCE, sourcePath, fileHash };
  const origin = { source: fileOrigin(sourcePath), createdBy: FILE_ACTOR };
  const existing = await tx.workflow.findUnique({
    where: { name: definition.name },
    include: { steps: { orderBy: { position: 'asc' } } },
  });
  if (!existing) {
    const created = await tx.workflow.create({
      data: { name: definition.name, ...columns, steps: { create: steps.map(forCreate) } },
    });
    await recordVersion(tx, { workflowId: created.id, version: created.version, definition, ...origin });
    return 'created';
  }

  // Edited in Slack, and the file is the one imported before that edit: the edit is newer.
  if (existing.source !== FILE_SOURCE && existing.enabled && existing.fileHash === fileHash) {
    return 'kept';
  }

  const changed = canonical(existing.definition) !== canonical(json);
  const stepsDiffer = !sameSteps(existing.steps, steps);
  const rowDiffers =
    !existing.enabled ||
    existing.personaId !== columns.personaId ||
    existing.sourcePath !== sourcePath ||
    existing.source !== FILE_SOURCE ||
    existing.fileHash !== fileHash;
  let version = existing.version;
  if (changed || rowDiffers) {
    const updated = await tx.workflow.update({
      where: { id: existing.id },
      data: { ...columns, enabled: true, ...(changed ? { version: { increment: 1 } } : {}) },
      select: { version: true },
    });
    version = updated.version;
  }
  if (changed || stepsDiffer) await replaceSteps(tx, existing.id, steps);
  // Every version has its row; one synced before versions were recorded gets it now.
  await recordVersion(
    tx,
    changed
      ? { workflowId: existing.id, version, definition, ...origin }
      : { workflowId: existing.id, version, definition: existing.definition, ...origin },
  );
  if (!existing.enabled) return 'enabled';
  return changed ? 'updated' : 'unchanged';
}

function emptyCounts(): SyncCounts {
  return { created: [], updated: [], unchanged: [], disabled: [], enabled: [], kept: [] };
}

export interface PersonaRef {
  id: string;
  name: string;
  system: string;
}

export interface StoredWorkflow {
  /** What a run records of its workflow (its definition is `definition`). */
  workflow: Pick<Workflow, 'id' | 'name' | 'version' | 'enabled'>;
  definition: WorkflowDefinition;
  /** Every persona the definition names, by name. */
  personas: Map<string, PersonaRef>;
}

// The workflow and the personas its definition names (the workflow's own and its steps'), in
// one statement: every run start reads it, so one round trip and no query building.
const LOAD_WORKFLOW_SQL = `
SELECT w."id", w."name", w."version", w."enabled", w."definition",
  COALESCE((
    SELECT json_agg(json_build_object('id', p."id", 'name', p."name", 'system', p."system"))
    FROM "Persona" p
    WHERE p."name" = w."definition"->>'persona'
      OR p."name" IN (SELECT s->>'persona' FROM jsonb_array_elements(w."definition"->'steps') s)
  ), '[]'::json) AS "personas"
FROM "Workflow" w
WHERE w."name" = $1`;

/**
 * A workflow as the engine snapshots it. Null when there is none by that name, or when it
 * is disabled (its file was removed) unless `includeDisabled`.
 */
export async function loadWorkflowFromDb(
  sql: SqlQuery,
  name: string,
  options: { includeDisabled?: boolean } = {},
): Promise<StoredWorkflow | null> {
  // Both drivers (pg, PGlite) hand json columns back parsed.
  const [row] = await sql<
    Pick<Workflow, 'id' | 'name' | 'version' | 'enabled'> & {
      definition: WorkflowDefinition;
      personas: PersonaRef[];
    }
  >(LOAD_WORKFLOW_SQL, [name]);
  if (!row || (!row.enabled && !options.includeDisabled)) return null;
  return {
    workflow: { id: row.id, name: row.name, version: row.version, enabled: row.enabled },
    definition: row.definition,
    personas: new Map(row.personas.map((p) => [p.name, { id: p.id, name: p.name, system: p.system }])),
  };
}

/** Where a workflow's current version came from (its WorkflowVersion row). */
export interface VersionOrigin {
  version: number;
  /** "file:<path>" or "slack:<user id>". */
  source: string;
  /** Slack user id, or "file". */
  createdBy: string;
  createdAt: Date;
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
  owners: string[];
  /** "file" or "slack" (edited in Slack since its file was last imported). */
  source: string;
  /** The current version's origin; null for a workflow written before versions were recorded. */
  origin: VersionOrigin | null;
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
  const origins = await currentOrigins(prisma, rows);
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
    owners: w.owners,
    source: w.source,
    origin: origins.get(w.id) ?? null,
  }));
}

/** The WorkflowVersion row of each workflow's current version, by workflow id. */
export async function currentOrigins(
  prisma: PrismaClient,
  workflows: readonly { id: string; version: number }[],
): Promise<Map<string, VersionOrigin>> {
  if (workflows.length === 0) return new Map();
  const rows = await prisma.workflowVersion.findMany({
    where: { OR: workflows.map((w) => ({ workflowId: w.id, version: w.version })) },
    select: { workflowId: true, version: true, source: true, createdBy: true, createdAt: true },
  });
  return new Map(rows.map(({ workflowId, ...origin }) => [workflowId, origin]));
}

/** A workflow as the "Run a workflow" menus need it (WorkflowStore.runnable). */
export interface RunnableWorkflow {
  name: string;
  description: string;
  enabled: boolean;
  owners: string[];
  /** Who may start runs besides owners and admins; empty: everyone. */
  runners: string[];
}

/** A persona's row. */
export interface PersonaRow {
  id: string;
  name: string;
  description: string;
  system: string;
  /** "file:<path>" or "slack:<user id>". */
  source: string;
  disabled: boolean;
  updatedAt: Date;
}

/** A workflow's current definition, for editing in Slack. */
export interface WorkflowRecord {
  id: string;
  name: string;
  version: number;
  enabled: boolean;
  owners: string[];
  source: string;
  sourcePath: string | null;
  notify: string | null;
  definition: WorkflowDefinition;
  origin: VersionOrigin | null;
}

/** A definition saved from Slack as the next version (WorkflowStore.saveEdit). */
export interface DefinitionEdit {
  workflowId: string;
  expectedVersion: number;
  definition: WorkflowDefinition;
  actor: string;
  action: string;
  /** Audit rows, one per changed field (values already cut for people). */
  changes: { field: string; from: string | null; to: string | null }[];
}

/** Why a write was refused: the service turns it into words. */
export type DefinitionRefusal =
  | { refused: 'not_found' }
  | { refused: 'disabled'; name: string }
  | { refused: 'stale'; name: string; version: number }
  | { refused: 'exists'; name: string };

/**
 * The definitions aggregate's data: workflows, their steps and versions, personas, and the
 * audit rows of their edits. Every write takes the definitions lock (writeDefinitions).
 */
export class WorkflowStore {
  constructor(
    private readonly prisma: PrismaClient,
    /** The driver itself, for the read every run start makes (see RunStore's). */
    private readonly sql: SqlQuery,
  ) {}

  /** Makes the database match the workflow files (see syncWorkflows above). */
  sync(input: SyncInput): Promise<SyncSummary> {
    return syncWorkflows(this.prisma, input);
  }

  /** Moves on each definition write this process makes. */
  generation(): number {
    return definitionsGeneration(this.prisma);
  }

  load(name: string, options: { includeDisabled?: boolean } = {}): Promise<StoredWorkflow | null> {
    return loadWorkflowFromDb(this.sql, name, options);
  }

  list(options: { includeDisabled?: boolean } = {}): Promise<WorkflowSummary[]> {
    return listWorkflows(this.prisma, options);
  }

  async names(options: { includeDisabled?: boolean } = {}): Promise<string[]> {
    const rows = await this.prisma.workflow.findMany({
      where: options.includeDisabled ? {} : { enabled: true },
      orderBy: { name: 'asc' },
      select: { name: true },
    });
    return rows.map((w) => w.name);
  }

  /** Owners and notify channel of a workflow, by name or id. */
  async facts(ref: { name: string } | { id: string }) {
    return this.prisma.workflow.findUnique({
      where: 'name' in ref ? { name: ref.name } : { id: ref.id },
      select: { id: true, name: true, owners: true, notify: true, enabled: true },
    });
  }

  /**
   * Enabled workflows with who may start them (owners, and the definition's runners), for
   * the "Run a workflow" menus; disabled ones too when asked (to say why one cannot run).
   */
  async runnable(options: { name?: string; includeDisabled?: boolean } = {}): Promise<RunnableWorkflow[]> {
    const rows = await this.prisma.workflow.findMany({
      where: {
        ...(options.includeDisabled ? {} : { enabled: true }),
        ...(options.name === undefined ? {} : { name: options.name }),
      },
      orderBy: { name: 'asc' },
      select: { name: true, description: true, enabled: true, owners: true, definition: true },
    });
    return rows.map((w) => ({
      name: w.name,
      description: w.description,
      enabled: w.enabled,
      owners: w.owners,
      runners: (w.definition as unknown as WorkflowDefinition).runners ?? [],
    }));
  }

  /** Does `userId` own any enabled workflow? */
  async ownsAny(userId: string): Promise<boolean> {
    return (await this.prisma.workflow.count({ where: { enabled: true, owners: { has: userId } } })) > 0;
  }

  async record(name: string): Promise<WorkflowRecord | null> {
    const row = await this.prisma.workflow.findUnique({ where: { name } });
    if (!row) return null;
    const origins = await currentOrigins(this.prisma, [row]);
    return {
      id: row.id,
      name: row.name,
      version: row.version,
      enabled: row.enabled,
      owners: row.owners,
      source: row.source,
      sourcePath: row.sourcePath,
      notify: row.notify,
      definition: row.definition as unknown as WorkflowDefinition,
      origin: origins.get(row.id) ?? null,
    };
  }

  /** Writes the definition as the next version (source "slack:<actor>"), with its audit rows. */
  saveEdit(edit: DefinitionEdit): Promise<{ version: number } | DefinitionRefusal> {
    return writeDefinitions(this.prisma, async (tx) => {
      const row = await tx.workflow.findUnique({ where: { id: edit.workflowId } });
      if (!row) return { refused: 'not_found' } as const;
      if (!row.enabled) return { refused: 'disabled', name: row.name } as const;
      if (row.version !== edit.expectedVersion)
        return { refused: 'stale', name: row.name, version: row.version } as const;
      const ids = await personaIds(tx, [edit.definition]);
      const { count } = await tx.workflow.updateMany({
        where: { id: row.id, version: edit.expectedVersion },
        data: { ...definitionColumns(edit.definition, ids), source: SLACK_SOURCE, version: { increment: 1 } },
      });
      if (count !== 1) return { refused: 'stale', name: row.name, version: row.version + 1 } as const;
      const version = edit.expectedVersion + 1;
      await replaceSteps(tx, row.id, stepRows(edit.definition, ids));
      await recordVersion(tx, {
        workflowId: row.id,
        version,
        definition: edit.definition,
        source: slackOrigin(edit.actor),
        createdBy: edit.actor,
      });
      await tx.auditEvent.createMany({
        data: edit.changes.map((c) => ({
          workflow: row.name,
          actor: edit.actor,
          action: edit.action,
          field: `v${version} ${c.field}`,
          fromValue: c.from,
          toValue: c.to,
        })),
      });
      return { version };
    });
  }

  // ── personas ────────────────────────────────────────────────────────────────

  /** Enabled personas by name. */
  personas(): Promise<PersonaRow[]> {
    return this.prisma.persona.findMany({ where: { disabled: false }, orderBy: { name: 'asc' } });
  }

  persona(name: string): Promise<PersonaRow | null> {
    return this.prisma.persona.findUnique({ where: { name } });
  }

  /** A persona by id; disabled ones only when asked (a card may still name one). */
  personaById(id: string, options: { includeDisabled?: boolean } = {}): Promise<PersonaRow | null> {
    return this.prisma.persona.findFirst({
      where: { id, ...(options.includeDisabled ? {} : { disabled: false }) },
    });
  }

  personasById(ids: readonly string[]): Promise<PersonaRow[]> {
    return ids.length === 0
      ? Promise.resolve([])
      : this.prisma.persona.findMany({ where: { id: { in: [...ids] } } });
  }

  /** Enabled workflows whose definition names the persona, with their owners. */
  async personaUsage(name: string): Promise<{ name: string; owners: string[] }[]> {
    const rows = await this.prisma.workflow.findMany({
      where: { enabled: true },
      select: { name: true, owners: true, definition: true },
    });
    return rows
      .filter((w) => {
        const d = w.definition as { persona?: string; steps?: { persona?: string }[] };
        return d.persona === name || (d.steps ?? []).some((s) => s.persona === name);
      })
      .map((w) => ({ name: w.name, owners: w.owners }));
  }

  addPersona(persona: PersonaDefinition, actor: string): Promise<PersonaRow | DefinitionRefusal> {
    return writeDefinitions(this.prisma, async (tx) => {
      if (await tx.persona.findUnique({ where: { name: persona.name } }))
        return { refused: 'exists', name: persona.name } as const;
      const row = await tx.persona.create({ data: { ...persona, source: slackOrigin(actor) } });
      await tx.auditEvent.create({
        data: {
          actor,
          action: 'persona.add',
          field: `persona:${persona.name}`,
          fromValue: null,
          toValue: persona.system.slice(0, 2000),
        },
      });
      return row;
    });
  }

  /** `expectedUpdatedAt`: what the editor showed; a persona saved since is not overwritten. */
  editPersona(
    persona: PersonaDefinition,
    actor: string,
    expectedUpdatedAt?: Date,
  ): Promise<PersonaRow | DefinitionRefusal> {
    return writeDefinitions(this.prisma, async (tx) => {
      const row = await tx.persona.findUnique({ where: { name: persona.name } });
      if (!row || row.disabled) return { refused: 'not_found' } as const;
      if (expectedUpdatedAt && row.updatedAt.getTime() !== expectedUpdatedAt.getTime())
        return { refused: 'stale', name: persona.name, version: 0 } as const;
      const updated = await tx.persona.update({
        where: { id: row.id },
        data: { description: persona.description, system: persona.system, source: slackOrigin(actor) },
      });
      const changes = (['description', 'system'] as const).filter((k) => row[k] !== persona[k]);
      if (changes.length > 0) {
        await tx.auditEvent.createMany({
          data: changes.map((k) => ({
            actor,
            action: 'persona.edit',
            field: `persona:${persona.name}.${k}`,
            fromValue: row[k].slice(0, 2000),
            toValue: persona[k].slice(0, 2000),
          })),
        });
      }
      return updated;
    });
  }
}

/** A store answer that is a refusal, not a row. */
export function isRefusal(value: unknown): value is DefinitionRefusal {
  return typeof value === 'object' && value !== null && 'refused' in value;
}
