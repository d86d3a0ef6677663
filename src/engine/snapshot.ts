import type { WorkflowDefinition } from '../core/workflow-definition.js';

/** A persona as a run saw it when it started. */
export interface PersonaSnapshot {
  id: string;
  name: string;
  system: string;
}

/**
 * What a run keeps of its workflow when it starts: editing a definition or a persona never
 * changes a run in flight.
 */
export interface RunSnapshot {
  workflowId: string;
  workflowVersion: number;
  definition: WorkflowDefinition;
  /** The workflow persona's id, if any. */
  workflowPersonaId: string | null;
  /** Every persona the definition names, by id. */
  personas: Record<string, PersonaSnapshot>;
}

export function readSnapshot(value: unknown): RunSnapshot {
  // Written only by startRun; a malformed one means a hand-edited row.
  const snapshot = value as RunSnapshot;
  if (!snapshot || typeof snapshot !== 'object' || !snapshot.definition) {
    throw new Error('Run snapshot is missing or malformed');
  }
  return snapshot;
}
