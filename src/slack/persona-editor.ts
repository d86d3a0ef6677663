import type { WorkflowStore } from '../db/workflow-store.js';
import { AuthoringError } from '../workflows/definition-edits.js';
import { PersonaAuthoring } from '../workflows/persona-defs.js';
import { mayEditPersona, type PermissionPolicy } from './permissions.js';
import {
  errorMessage,
  INPUT_ACTION,
  MAX_INPUT,
  type ModalView,
  personaEditorModal,
  personaListMessage,
  personaSavedModal,
} from './views/index.js';
import type { MessagePayload } from './views/model.js';
import { inlineCode, mrkdwnToPlain } from './views/text.js';
import type { SubmitResult, ViewSubmission } from './workflow-editor.js';

/**
 * `/workflow persona list|add|edit <name>` and the persona editor's Save. Checks who may act
 * (mayEditPersona), then PersonaAuthoring validates by the personas.yml rules and saves;
 * its problems come back keyed by the editor's block ids.
 */

type Values = ViewSubmission['view']['state']['values'];

export interface PersonaEditorOptions {
  workflows: WorkflowStore;
  policy: PermissionPolicy;
}

export class PersonaEditor {
  readonly personas: PersonaAuthoring;

  constructor(private readonly o: PersonaEditorOptions) {
    this.personas = new PersonaAuthoring(o.workflows);
  }

  async list(): Promise<MessagePayload> {
    return personaListMessage(await this.personas.list());
  }

  /** `/workflow persona add` (no name) or `persona edit <name>`: the editor, or why not. */
  async open(
    name: string | undefined,
    userId: string,
  ): Promise<{ view: ModalView } | { refusal: MessagePayload }> {
    const ownsAny = await this.ownsAnyWorkflow(userId);
    if (name === undefined) {
      const decision = mayEditPersona(userId, { name: null, usedBy: [] }, ownsAny, this.o.policy);
      if (!decision.allowed) return { refusal: errorMessage(decision.message) };
      return { view: personaEditorModal({}) };
    }
    const persona = await this.personas.find(name);
    if (!persona || persona.disabled) {
      const names = (await this.personas.list()).map((p) => p.name);
      return {
        refusal: errorMessage(`No persona named ${inlineCode(name)}.`, {
          hint:
            names.length > 0
              ? `Personas: ${names
                  .slice(0, 10)
                  .map((n) => inlineCode(n))
                  .join(', ')}`
              : undefined,
        }),
      };
    }
    const usage = await this.personas.usage(name);
    const decision = mayEditPersona(userId, { name, usedBy: usage.workflows }, ownsAny, this.o.policy);
    if (!decision.allowed) return { refusal: errorMessage(decision.message) };
    if (persona.system.length > MAX_INPUT) {
      return {
        refusal: errorMessage(
          `Persona ${inlineCode(name)} has a ${persona.system.length}-character system prompt, more than a Slack text box holds (3000). Edit it in personas.yml.`,
        ),
      };
    }
    return {
      view: personaEditorModal({
        persona: { ...persona, updatedAt: persona.updatedAt.toISOString() },
        usedBy: usage.workflows.map((w) => w.name),
      }),
    };
  }

  async submit(
    meta: { name?: string | undefined; updatedAt?: string | undefined },
    values: Values,
    userId: string,
  ): Promise<SubmitResult> {
    const text = (block: string) => values[block]?.[INPUT_ACTION]?.value?.trim() ?? '';
    const ownsAny = await this.ownsAnyWorkflow(userId);
    const name = meta.name ?? text('name');
    const usage = meta.name ? await this.personas.usage(meta.name) : { workflows: [] };
    const decision = mayEditPersona(
      userId,
      { name: meta.name ?? null, usedBy: usage.workflows },
      ownsAny,
      this.o.policy,
    );
    const first = meta.name ? 'system' : 'name';
    if (!decision.allowed) return { errors: { [first]: mrkdwnToPlain(decision.message) } };
    try {
      const input = { description: text('description'), system: text('system') };
      if (meta.name) {
        await this.personas.edit(
          meta.name,
          input,
          userId,
          meta.updatedAt ? new Date(meta.updatedAt) : undefined,
        );
      } else {
        await this.personas.add({ name, ...input }, userId);
      }
      return {
        ok: true,
        confirmation: personaSavedModal(name, meta.name ? 'edited' : 'added', usage.workflows.length),
      };
    } catch (error) {
      if (!AuthoringError.isInstance(error)) throw error;
      if (error.code !== 'invalid') return { errors: { [first]: error.message } };
      const errors: Record<string, string> = {};
      for (const p of error.problems) {
        const field = String(p.path[0] ?? first);
        const block =
          ['name', 'description', 'system'].includes(field) && (field !== 'name' || !meta.name)
            ? field
            : first;
        errors[block] = errors[block] ? `${errors[block]}; ${p.message}` : p.message;
      }
      return { errors };
    }
  }

  private async ownsAnyWorkflow(userId: string): Promise<boolean> {
    return this.o.workflows.ownsAny(userId);
  }
}
