import type { types } from '@slack/bolt';
import {
  CALLBACKS,
  DEFAULT_PERSONA_VALUE,
  isId,
  modelValue,
  runBlockId,
  stepModalMetadata,
} from './action-ids.js';
import { threadLink } from './alert.js';
import {
  type Block,
  context,
  LIMITS,
  type ModalView,
  option,
  type PlainTextOption,
  plain,
  section,
} from './blocks.js';
import type { MessagePayload, PersonaMenu, ProviderMenu } from './model.js';
import { starterMrkdwn } from './status.js';
import { excerpt, safeMrkdwn } from './text.js';

/**
 * "Re-run from here…" (docs/control.md), pure: the modal that changes the provider/model,
 * persona and prompt of the step the re-run starts from and of every later one, and the
 * note left in the old run's thread.
 */

/** Option value: leave this choice as the old run had it. */
export const KEEP_VALUE = '__keep__';
export const RERUN_INPUT = 'value';
/** Slack's plain_text_input holds at most 3000 characters. */
const MAX_PROMPT_INPUT = 3000;
/** Four blocks per step and a head: Slack's 100 blocks per view hold this many steps. */
export const MAX_RERUN_STEPS = 24;

export interface RerunStepInput {
  position: number;
  name: string;
  prompt: string;
  /** What it ran on (effective): "openai", "gpt-4o-mini". */
  provider: string;
  model: string;
  personaName: string | null;
}

export interface RerunModalInput {
  run: { number: number; workflowName: string };
  /** The step the re-run starts from (its id and card version go into the metadata). */
  from: { id: string; version: number; position: number; total: number };
  /** That step and every later one. */
  steps: readonly RerunStepInput[];
  providers: readonly ProviderMenu[];
  personas: readonly PersonaMenu[];
  /** The persona a step without its own falls back to. */
  workflowPersona: string | null;
}

export const rerunBlock = (position: number, field: 'model' | 'persona' | 'prompt') =>
  `s${position}-${field}`;

/** Parses a re-run input's block id back into its step and field. */
export function parseRerunBlock(
  blockId: string,
): { position: number; field: 'model' | 'persona' | 'prompt' } | undefined {
  const m = /^s(\d{1,3})-(model|persona|prompt)$/.exec(blockId);
  return m ? { position: Number(m[1]), field: m[2] as 'model' | 'persona' | 'prompt' } : undefined;
}

function modelInput(step: RerunStepInput, providers: readonly ProviderMenu[]): types.StaticSelect {
  const keep = option(excerpt(`As before (${step.provider}/${step.model})`, LIMITS.optionText), KEEP_VALUE);
  const groups: { label: types.PlainTextElement; options: PlainTextOption[] }[] = [
    { label: plain('Keep', LIMITS.optionText), options: [keep] },
  ];
  let budget = LIMITS.optionsPerSelect - 1;
  for (const provider of providers) {
    const options: PlainTextOption[] = [];
    for (const model of provider.models) {
      const value = modelValue(provider.id, model);
      if (!value || budget <= 0) continue;
      options.push(option(model, value));
      budget--;
    }
    if (options.length > 0) groups.push({ label: plain(provider.label, LIMITS.optionText), options });
  }
  return { type: 'static_select', action_id: RERUN_INPUT, option_groups: groups, initial_option: keep };
}

function personaInput(step: RerunStepInput, input: RerunModalInput): types.StaticSelect {
  const keep = option(excerpt(`As before (${step.personaName ?? 'none'})`, LIMITS.optionText), KEEP_VALUE);
  const fallback = option(
    excerpt(`Workflow default (${input.workflowPersona ?? 'none'})`, LIMITS.optionText),
    DEFAULT_PERSONA_VALUE,
  );
  const personas = [...new Map(input.personas.filter((p) => isId(p.id)).map((p) => [p.id, p])).values()]
    .slice(0, LIMITS.optionsPerSelect - 2)
    .map((p) => option(excerpt(p.name, LIMITS.optionText), p.id));
  return {
    type: 'static_select',
    action_id: RERUN_INPUT,
    options: [keep, fallback, ...personas],
    initial_option: keep,
  };
}

export function rerunModal(input: RerunModalInput): ModalView {
  const shown = input.steps.slice(0, MAX_RERUN_STEPS);
  const blocks: (Block | types.InputBlock)[] = [
    section(
      'rerun-head',
      `A new run of *${safeMrkdwn(excerpt(input.run.workflowName, 80))}* with run #${input.run.number}'s input. Steps 1–${input.from.position} reuse its outputs (no provider calls); from step ${input.from.position + 1} on they run again, with the changes below.`,
    ),
  ];
  if (input.from.position === 0) {
    blocks[0] = section(
      'rerun-head',
      `A new run of *${safeMrkdwn(excerpt(input.run.workflowName, 80))}* with run #${input.run.number}'s input; every step runs again, with the changes below.`,
    );
  }
  for (const step of shown) {
    blocks.push(
      context(`s${step.position}-head`, [
        `*Step ${step.position + 1}/${input.from.total} · ${safeMrkdwn(excerpt(step.name, 80))}*`,
      ]),
      {
        type: 'input',
        block_id: rerunBlock(step.position, 'model'),
        label: plain('Provider / model', 2000),
        element: modelInput(step, input.providers),
      },
      {
        type: 'input',
        block_id: rerunBlock(step.position, 'persona'),
        label: plain('Persona', 2000),
        element: personaInput(step, input),
      },
    );
    if (step.prompt.length > MAX_PROMPT_INPUT) {
      blocks.push(
        context(rerunBlock(step.position, 'prompt'), [
          `Prompt: ${step.prompt.length.toLocaleString('en-US')} characters, more than a Slack text box holds; it runs as before.`,
        ]),
      );
    } else {
      blocks.push({
        type: 'input',
        block_id: rerunBlock(step.position, 'prompt'),
        label: plain('Prompt', 2000),
        element: {
          type: 'plain_text_input',
          action_id: RERUN_INPUT,
          multiline: true,
          max_length: MAX_PROMPT_INPUT,
          ...(step.prompt ? { initial_value: step.prompt } : {}),
        },
      });
    }
  }
  if (input.steps.length > shown.length) {
    blocks.push(
      context('rerun-more', [
        `Steps ${shown.length + input.from.position + 1}–${input.from.total} run as before (a modal holds ${MAX_RERUN_STEPS} steps).`,
      ]),
    );
  }
  return {
    type: 'modal',
    callback_id: CALLBACKS.rerun,
    private_metadata: stepModalMetadata({ stepId: input.from.id, version: input.from.version }),
    title: plain(`Re-run from step ${input.from.position + 1}`, LIMITS.modalTitle),
    submit: plain('Re-run', LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalTitle),
    blocks: blocks as ModalView['blocks'],
  };
}

/** The note in the old run's thread: where it was re-run, by whom, with a link. */
export function rerunLinkNote(input: {
  oldRun: { id: string; version: number };
  newRun: { number: number };
  fromStep: number;
  actor: string;
  /** The new run's thread (chat.getPermalink). */
  permalink?: string | undefined;
}): MessagePayload {
  const link = threadLink(input.permalink, `Open run #${input.newRun.number}`);
  const text = `:repeat: ${starterMrkdwn(input.actor)} re-ran this from step ${input.fromStep} as *run #${input.newRun.number}*.${link ? ` ${link}` : ''}`;
  return {
    text: `Re-run from step ${input.fromStep} as run #${input.newRun.number}`,
    blocks: [
      section(runBlockId(input.oldRun.id, input.oldRun.version, `rerun-${input.newRun.number}`), text),
    ],
  };
}

/** The answer to whoever re-ran it (the command, or the modal's submit). */
export function rerunStartedMessage(input: {
  oldNumber: number;
  newNumber: number;
  fromStep: number;
  channelId: string | null;
}): MessagePayload {
  const where =
    input.channelId && /^[CG][A-Z0-9]{2,}$/.test(input.channelId) ? ` in <#${input.channelId}>` : '';
  const text = `:repeat: Re-running run #${input.oldNumber} from step ${input.fromStep} as *run #${input.newNumber}*${where}; steps before ${input.fromStep} reuse its outputs.`;
  return {
    text: `Re-running run #${input.oldNumber} as run #${input.newNumber}`,
    blocks: [section('rerun-started', text)],
  };
}
