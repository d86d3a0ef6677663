import { CALLBACKS } from './action-ids.js';
import { context, LIMITS, type ModalView, plain, section } from './blocks.js';
import { input, MAX_INPUT, textInput, type ViewBlock } from './editor.js';
import type { MessagePayload } from './model.js';
import { starterMrkdwn } from './status.js';
import { excerpt, inlineCode, mrkdwn, safeMrkdwn } from './text.js';

/** The persona editor modal and `/workflow persona list` (pure). */

/** Input block ids of the persona editor. */
export const PERSONA_FIELDS = ['name', 'description', 'system'] as const;

export interface PersonaEditorInput {
  /** Undefined when adding. */
  persona?: { name: string; description: string; system: string; updatedAt: string } | undefined;
  /** Workflows that use it (editing): an edit changes them all. */
  usedBy?: readonly string[] | undefined;
}

export interface PersonaEditorMetadata {
  name?: string | undefined;
  updatedAt?: string | undefined;
}

export function parsePersonaMetadata(raw: unknown): PersonaEditorMetadata | undefined {
  try {
    const v = JSON.parse(String(raw)) as { n?: unknown; u?: unknown };
    if (v.n === undefined) return {};
    if (typeof v.n === 'string' && typeof v.u === 'string') return { name: v.n, updatedAt: v.u };
  } catch {
    // fall through
  }
  return undefined;
}

export function personaEditorModal(p: PersonaEditorInput): ModalView {
  const editing = p.persona;
  const blocks: ViewBlock[] = [];
  if (editing) {
    blocks.push(section('persona-name', `Persona *${safeMrkdwn(editing.name)}*`));
    const used = p.usedBy ?? [];
    blocks.push(
      context('persona-used', [
        used.length > 0
          ? `Used by ${used
              .slice(0, 8)
              .map((n) => inlineCode(n))
              .join(
                ', ',
              )}${used.length > 8 ? ` and ${used.length - 8} more` : ''}: a change applies to their next runs.`
          : 'No workflow uses it yet.',
      ]),
    );
  } else {
    blocks.push(
      input('name', 'Name', textInput('', { max: 64, placeholder: 'reviewer' }), {
        hint: 'A slug: lowercase letters, digits and dashes. Steps name it in their persona field.',
      }),
    );
  }
  blocks.push(
    input('description', 'Description', textInput(editing?.description ?? '', { max: 500 }), {
      optional: true,
    }),
    input(
      'system',
      'System prompt',
      textInput(editing?.system ?? '', {
        multiline: true,
        max: MAX_INPUT,
        placeholder: 'You are a careful code reviewer …',
      }),
    ),
  );
  return {
    type: 'modal',
    callback_id: CALLBACKS.persona,
    private_metadata: editing ? JSON.stringify({ n: editing.name, u: editing.updatedAt }) : '{}',
    title: plain(editing ? 'Edit persona' : 'New persona', LIMITS.modalTitle),
    submit: plain('Save', LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalTitle),
    blocks: blocks as ModalView['blocks'],
  };
}

export interface PersonaListItem {
  name: string;
  description: string;
  /** "file:<path>" or "slack:<user>". */
  source: string;
}

export function personaListMessage(personas: readonly PersonaListItem[]): MessagePayload {
  if (personas.length === 0) {
    return {
      text: 'No personas yet',
      blocks: [
        section(
          'personas-empty',
          'No personas yet. Add one with `/workflow persona add`, or in personas.yml.',
        ),
      ],
    };
  }
  const lines = personas.map((p) => {
    const about = p.description ? ` — ${mrkdwn(excerpt(p.description, 120), 400)}` : '';
    const where = p.source.startsWith('slack:')
      ? `edited in Slack by ${starterMrkdwn(p.source.slice('slack:'.length))}`
      : `from ${safeMrkdwn(
          p.source
            .replace(/^file:/, '')
            .split('/')
            .pop() ?? 'a file',
        )}`;
    return `• ${inlineCode(p.name)}${about} · ${where}`;
  });
  const text = lines.join('\n');
  return {
    text: `${personas.length} persona${personas.length === 1 ? '' : 's'}`,
    blocks: [
      section('personas-head', '*Personas* — `/workflow persona add`, `/workflow persona edit <name>`'),
      section('personas-list', text.length > LIMITS.sectionText ? `${text.slice(0, 2900)}\n…` : text),
    ],
  };
}

/** Replaces the persona editor once saved. */
export function personaSavedModal(name: string, what: 'added' | 'edited', used: number): ModalView {
  const effect =
    what === 'edited' && used > 0
      ? ` The ${used} workflow${used === 1 ? '' : 's'} using it get the change from their next run; runs already started keep their copy.`
      : ' Pick it in a step’s persona menu, or name it in a workflow file.';
  return {
    type: 'modal',
    callback_id: 'persona_saved',
    title: { type: 'plain_text', text: 'Persona saved' },
    close: { type: 'plain_text', text: 'Done' },
    blocks: [
      {
        type: 'section',
        block_id: 'persona-saved',
        text: { type: 'mrkdwn', text: `:white_check_mark: Persona ${inlineCode(name)} ${what}.${effect}` },
      },
    ],
  };
}
