import type { PrismaClient } from '../db/database.js';
import type { PersonaDefinition } from './definition.js';
import { AuthoringError } from './definition-edits.js';
import { writeDefinitions } from './import-files.js';
import { slackOrigin } from './rows.js';
import { personasFileSchema, type SchemaProblem, schemaProblems } from './schema.js';
import { personaToFile } from './yaml-export.js';

/**
 * Personas made or edited outside personas.yml (Slack). Checked by the personas.yml rules;
 * a persona is shared, linked by id from workflow steps, so editing it changes every
 * workflow that uses it from their next run (runs already started keep their snapshot).
 * The name is the link in definitions, so it cannot be changed here.
 */

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
  constructor(private readonly prisma: PrismaClient) {}

  list(): Promise<PersonaRow[]> {
    return this.prisma.persona.findMany({ where: { disabled: false }, orderBy: { name: 'asc' } });
  }

  find(name: string): Promise<PersonaRow | null> {
    return this.prisma.persona.findUnique({ where: { name } });
  }

  /** Which enabled workflows use a persona (by name in their definitions). */
  async usage(name: string): Promise<PersonaUsage> {
    const rows = await this.prisma.workflow.findMany({
      where: { enabled: true },
      select: { name: true, owners: true, definition: true },
    });
    return {
      workflows: rows
        .filter((w) => {
          const d = w.definition as { persona?: string; steps?: { persona?: string }[] };
          return d.persona === name || (d.steps ?? []).some((s) => s.persona === name);
        })
        .map((w) => ({ name: w.name, owners: w.owners })),
    };
  }

  async add(input: PersonaDefinition, actor: string): Promise<PersonaRow> {
    const persona = validatePersona(input);
    return writeDefinitions(this.prisma, async (tx) => {
      const existing = await tx.persona.findUnique({ where: { name: persona.name } });
      if (existing) {
        throw new AuthoringError('invalid', `A persona named "${persona.name}" already exists.`, [
          { path: ['name'], message: `a persona named "${persona.name}" already exists — edit it instead` },
        ]);
      }
      const row = await tx.persona.create({
        data: { ...persona, source: slackOrigin(actor) },
      });
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
  async edit(
    name: string,
    input: Omit<PersonaDefinition, 'name'>,
    actor: string,
    expectedUpdatedAt?: Date,
  ): Promise<PersonaRow> {
    const persona = validatePersona({ name, ...input });
    return writeDefinitions(this.prisma, async (tx) => {
      const row = await tx.persona.findUnique({ where: { name } });
      if (!row || row.disabled) throw new AuthoringError('not_found', `No persona named "${name}".`);
      if (expectedUpdatedAt && row.updatedAt.getTime() !== expectedUpdatedAt.getTime()) {
        throw new AuthoringError(
          'stale',
          `Someone else changed persona "${name}" meanwhile, so nothing was saved. Open it again.`,
        );
      }
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
            field: `persona:${name}.${k}`,
            fromValue: row[k].slice(0, 2000),
            toValue: persona[k].slice(0, 2000),
          })),
        });
      }
      return updated;
    });
  }
}
