import { createHash } from 'node:crypto';
import type { WorkflowDefinition } from '../core/workflow-definition.js';
import { Prisma, type WorkflowStep } from './generated/client.js';

/**
 * A definition as database rows: the Workflow columns, its WorkflowStep rows and a
 * WorkflowVersion row. Shared by the file sync (sync.ts) and edits made in Slack
 * (authoring.ts), so both write a definition the same way.
 */

export type Tx = Prisma.TransactionClient;

/** Where a version came from: "file:<path>" or "slack:<user id>". */
export const fileOrigin = (path: string) => `file:${path}`;
export const slackOrigin = (userId: string) => `slack:${userId}`;

/** Plain JSON (undefined fields dropped), as the database will hand it back. */
export function toJson(value: unknown): Prisma.InputJsonValue {
  return JSON.parse(JSON.stringify(value)) as Prisma.InputJsonValue;
}

/** Key-order-independent JSON: PostgreSQL's jsonb does not keep the order keys were written in. */
export function canonical(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/**
 * What the file sync compares to tell whether a file changed since it was last imported:
 * the loaded definition, not the bytes, so a comment or re-indentation is not a change.
 */
export function contentHash(value: unknown): string {
  return createHash('sha256')
    .update(canonical(JSON.parse(JSON.stringify(value))))
    .digest('hex');
}

/** Persona names a definition uses, → their ids; throws if one is missing (callers validate first). */
export async function personaIds(
  tx: Tx,
  workflows: readonly WorkflowDefinition[],
): Promise<Map<string, string>> {
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

/** The Workflow columns a definition sets (not name, version, source or enabled). */
export function definitionColumns(definition: WorkflowDefinition, ids: Map<string, string>) {
  return {
    description: definition.description,
    personaId: definition.persona ? ids.get(definition.persona)! : null,
    provider: definition.provider ?? null,
    model: definition.model ?? null,
    notify: definition.notify ?? null,
    owners: definition.owners,
    fallbacks: toJson(definition.fallbacks),
    retry: definition.retry ? toJson(definition.retry) : Prisma.DbNull,
    definition: toJson(definition),
  };
}

export type StepRow = Omit<WorkflowStep, 'id' | 'workflowId' | 'fallbacks' | 'retry'> & {
  fallbacks: Prisma.InputJsonValue;
  retry: Prisma.InputJsonValue | null;
};

export function stepRows(definition: WorkflowDefinition, ids: Map<string, string>): StepRow[] {
  return definition.steps.map((s, position) => ({
    position,
    name: s.name,
    prompt: s.prompt,
    provider: s.provider ?? null,
    model: s.model ?? null,
    // A step names its persona; the row links the existing persona by id (never a copy).
    personaId: s.persona ? ids.get(s.persona)! : null,
    fallbacks: toJson(s.fallbacks),
    retry: s.retry ? toJson(s.retry) : null,
    timeoutSeconds: s.timeoutSeconds ?? null,
  }));
}

export function forCreate(row: StepRow) {
  return { ...row, retry: row.retry ?? Prisma.DbNull };
}

export function sameSteps(existing: WorkflowStep[], wanted: StepRow[]): boolean {
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

/** Replaces a workflow's step rows with the definition's. */
export async function replaceSteps(tx: Tx, workflowId: string, steps: StepRow[]): Promise<void> {
  await tx.workflowStep.deleteMany({ where: { workflowId } });
  await tx.workflowStep.createMany({ data: steps.map((s) => ({ ...forCreate(s), workflowId })) });
}

export interface VersionRecord {
  workflowId: string;
  version: number;
  definition: WorkflowDefinition | Prisma.JsonValue;
  /** "file:<path>" or "slack:<user id>". */
  source: string;
  /** Slack user id, or "file". */
  createdBy: string;
}

/** Writes the version row; a row already there for that version is left as it is. */
export async function recordVersion(tx: Tx, record: VersionRecord): Promise<void> {
  await tx.workflowVersion.createMany({
    data: [
      {
        workflowId: record.workflowId,
        version: record.version,
        definition: toJson(record.definition),
        source: record.source,
        createdBy: record.createdBy,
      },
    ],
    skipDuplicates: true,
  });
}
