import type { types } from '@slack/bolt';
import { CALLBACKS } from './action-ids.js';
import { context, LIMITS, type ModalView, option, plain, section } from './blocks.js';
import { INPUT_ACTION, input, MAX_INPUT, textInput, type ViewBlock } from './editor.js';
import { excerpt, inlineCode, safeMrkdwn } from './text.js';

/**
 * "Run a workflow…" (pure builders): the modal a message shortcut or the global shortcut
 * opens, and what it shows while and after the run starts. Its private_metadata says where
 * the shortcut was used; Slack hands it back unchanged with the submission, and the handler
 * still checks that whoever submits is whoever opened it.
 */

/** Input block ids of the modal; each input's action_id is INPUT_ACTION. */
export const RUN_FIELDS = {
  workflow: 'workflow',
  instructions: 'instructions',
  postIn: 'post_in',
  input: 'input',
  channel: 'channel',
} as const;

export type PostIn = 'thread' | 'channel';

/** Where a shortcut was used, carried in the modal's private_metadata. */
export type RunSource =
  | {
      kind: 'message';
      /** The conversation the message is in. */
      channel: string;
      /** Its name as the shortcut payload gave it (for the modal's text only). */
      channelName: string;
      /** The message's ts, and its thread's (its own when it starts none). */
      ts: string;
      root: string;
      /** True on a thread's parent with replies: the whole thread is the input. */
      whole: boolean;
      /** Replies Slack counted on the parent (for the modal's text only). */
      replies: number;
      /** Who used the shortcut: only they may submit the modal. */
      user: string;
    }
  | { kind: 'global'; user: string };

const TS = /^\d{1,12}\.\d{1,8}$/;
const CHANNEL = /^[CGD][A-Z0-9]{2,}$/;
const USER = /^[UW][A-Z0-9]{2,}$/;

export function runSourceMetadata(source: RunSource): string {
  if (source.kind === 'global') return JSON.stringify({ k: 'g', u: source.user });
  return JSON.stringify({
    k: 'm',
    c: source.channel,
    cn: source.channelName.slice(0, 80),
    t: source.ts,
    r: source.root,
    w: source.whole ? 1 : 0,
    n: source.replies,
    u: source.user,
  });
}

/** Strict: anything malformed (forged, truncated) is undefined. */
export function parseRunSource(raw: unknown): RunSource | undefined {
  try {
    const v = JSON.parse(String(raw)) as Record<string, unknown>;
    if (typeof v.u !== 'string' || !USER.test(v.u)) return undefined;
    if (v.k === 'g') return { kind: 'global', user: v.u };
    if (
      v.k !== 'm' ||
      typeof v.c !== 'string' ||
      !CHANNEL.test(v.c) ||
      typeof v.t !== 'string' ||
      !TS.test(v.t) ||
      typeof v.r !== 'string' ||
      !TS.test(v.r) ||
      (v.w !== 0 && v.w !== 1) ||
      typeof v.n !== 'number' ||
      !Number.isInteger(v.n) ||
      v.n < 0
    ) {
      return undefined;
    }
    return {
      kind: 'message',
      channel: v.c,
      channelName: typeof v.cn === 'string' ? v.cn : '',
      ts: v.t,
      root: v.r,
      whole: v.w === 1,
      replies: v.n,
      user: v.u,
    };
  } catch {
    return undefined;
  }
}

export interface RunModalInput {
  source: RunSource;
  /** The enabled workflows this user may run, by name (at most 100 are offered: Slack's limit). */
  workflows: readonly { name: string; description: string }[];
}

function where(source: Extract<RunSource, { kind: 'message' }>): string {
  const channel = source.channelName ? ` in #${safeMrkdwn(source.channelName)}` : '';
  if (!source.whole) return `The message${channel} is the input.`;
  const count = source.replies + 1;
  return `The whole thread${channel} (${count} messages, with their authors) is the input.`;
}

export function runModal(m: RunModalInput): ModalView {
  const options = m.workflows
    .slice(0, LIMITS.optionsPerSelect)
    .map((w) => option(w.name, w.name.slice(0, LIMITS.optionValue)));
  const workflow: types.StaticSelect = {
    type: 'static_select',
    action_id: INPUT_ACTION,
    placeholder: plain('Pick a workflow', 150),
    options,
  };
  if (options.length === 1) workflow.initial_option = options[0];
  const blocks: ViewBlock[] = [];
  if (m.source.kind === 'message') {
    blocks.push(context('run-source', [where(m.source)]));
    blocks.push(input(RUN_FIELDS.workflow, 'Workflow', workflow));
    blocks.push(
      input(
        RUN_FIELDS.instructions,
        'Extra instructions',
        textInput('', { multiline: true, max: MAX_INPUT, placeholder: 'e.g. Focus on customer impact' }),
        { optional: true, hint: 'Put before the message in the input.' },
      ),
    );
    const thread = option('In the thread', 'thread');
    const channel = option('In the channel', 'channel');
    const radios: types.RadioButtons = {
      type: 'radio_buttons',
      action_id: INPUT_ACTION,
      options: [thread, channel],
      initial_option: thread,
    };
    blocks.push(input(RUN_FIELDS.postIn, 'Post the run', radios));
  } else {
    blocks.push(input(RUN_FIELDS.workflow, 'Workflow', workflow));
    blocks.push(
      input(
        RUN_FIELDS.input,
        'Input',
        textInput('', {
          multiline: true,
          max: MAX_INPUT,
          placeholder: 'Paste the changelog, the incident notes…',
        }),
      ),
    );
    const picker: types.ConversationsSelect = {
      type: 'conversations_select',
      action_id: INPUT_ACTION,
      placeholder: plain('Pick a channel', 150),
      default_to_current_conversation: true,
      filter: { include: ['public', 'private'], exclude_bot_users: true },
    };
    blocks.push(input(RUN_FIELDS.channel, 'Post the run in', picker));
  }
  return {
    type: 'modal',
    callback_id: CALLBACKS.runWorkflow,
    private_metadata: runSourceMetadata(m.source),
    title: plain('Run a workflow', LIMITS.modalTitle),
    submit: plain('Run', LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalTitle),
    blocks: blocks as ModalView['blocks'],
  };
}

function notice(blockId: string, text: string): ModalView {
  return {
    type: 'modal',
    callback_id: CALLBACKS.runWorkflowNotice,
    title: plain('Run a workflow', LIMITS.modalTitle),
    close: plain('Close', LIMITS.modalTitle),
    blocks: [section(blockId, text)],
  };
}

/** Shown the moment the modal is submitted, while the thread is read and the run starts. */
export function runStartingModal(workflow: string, reading: boolean): ModalView {
  return notice(
    'run-starting',
    `:hourglass_flowing_sand: Starting ${inlineCode(workflow)}${reading ? ': reading the thread…' : '…'}`,
  );
}

/** `where`: "in the thread" / "in #general" (plain words, escaped here). */
export function runStartedModal(s: { workflow: string; number: number; where: string }): ModalView {
  return notice(
    'run-started',
    `:white_check_mark: Run #${s.number} of ${inlineCode(s.workflow)} started. It is posted ${safeMrkdwn(s.where)}.`,
  );
}

/** `message` is safe mrkdwn (the services' refusals). */
export function runRefusedModal(message: string): ModalView {
  const text = message.replace(/^:\w+: /, '');
  const tail = /Nothing was (started|changed)\.$/.test(text) ? '' : ' Nothing was started.';
  return notice('run-refused', `:warning: ${excerpt(text, 2800)}${tail}`);
}

/** Nothing to offer: no enabled workflow this user may run. */
export function noRunnableWorkflowModal(): ModalView {
  return notice(
    'run-none',
    'There is no workflow you can run. Workflow files list who may run them (`runners:`); ask a workflow owner or a Switchboard admin.',
  );
}
