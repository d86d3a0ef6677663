import type { PersonaDefinition } from '../core/workflow-definition.js';
import { isRefusal, type PersonaRow, type WorkflowStore } from '../db/workflow-store.js';
import { AuthoringError } from './definition-edits.js';
import { personasFileSchema, type SchemaProblem, schemaProblems } from './schema.js';
import { personaToFile } from './yaml-export.js';

/**
 * Personas made or edited outside personas.yml (Slack). Checked by the personas.yml rules;
 * a persona is shared, linked by id from workflow steps, so editing it changes every
 * workflow that uses it from their next run (runs already started keep their snapshot).
 * The name is the link in definitions, so it cannot be changed here.
 */

export type { PersonaRow };

export interface PersonaUsage {
  /** Enabled workflows naming it (workflow or step persona), with their owners. */
  workflows: { name: string; owners: string[] }[];
}

/** Checks one persona by the personas.yml schema; problems have paths like ["system"]. */
export function validatePersona(persona: PersonaDefinition): PersonaDefinition {
  const parsed = personasFileSchema.safeParse({ personas: [personaToFile(persona)] });
  if (parsed.success) return parsed.data.personas[0]!;
  const problems: SchemaProblem[] = schemaProblems(parsed.error).map((p) => ({
    path: p.path.slice(2),
    message: p.message,
  }));
  throw new AuthoringError('invalid', `Not saved: ${problems[0]?.message ?? 'invalid persona'}`, problems);
}

export class PersonaAuthoring {
  constructor(private readonly store: WorkflowStore) {}

  list(): Promise<PersonaRow[]> {
    return this.store.personas();
  }

  find(name: string): Promise<PersonaRow | null> {
    return this.store.persona(name);
  }

  /** Which enabled workflows use a persona (by name in their definitions). */
  async usage(name: string): Promise<PersonaUsage> {
    return { workflows: await this.store.personaUsage(name) };
  }

  async add(input: PersonaDefinition, actor: string): Promise<PersonaRow> {
    const persona = validatePersona(input);
    const row = await this.store.addPersona(persona, actor);
    if (isRefusal(row)) {
      throw new AuthoringError('invalid', `A persona named "${persona.name}" already exists.`, [
        { path: ['name'], message: `a persona named "${persona.name}" already exists — edit it instead` },
      ]);
    }
    return row;
  }

  /** `expectedUpdatedAt`: what the editor showed; a persona saved since is not overwritten. */
  async edit(
    name: string,
    input: Omit<PersonaDefinition, 'name'>,
    actor: string,
    expectedUpdatedAt?: Date,
  ): Promise<PersonaRow> {
    const persona = validatePersona({ name, ...input });
    const row = await this.store.editPersona(persona, actor, expectedUpdatedAt);
    if (!isRefusal(row)) return row;
    if (row.refused === 'stale') {
      throw new AuthoringError(
        'stale',
        `Someone else changed persona "${name}" meanwhile, so nothing was saved. Open it again.`,
      );
    }
    throw new AuthoringError('not_found', `No persona named "${name}".`);
  }
}
