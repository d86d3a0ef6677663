import { z } from 'zod';
import type { RunnableWorkflow, WorkflowStore } from '../db/workflow-store.js';
import { EngineError } from '../engine/engine-error.js';
import type { RunsService } from '../engine/runs.js';
import type { Logger } from '../logging.js';
import { mayRunWorkflow, type PermissionPolicy } from './permissions.js';
import type { ThreadReader } from './thread-reader.js';
import {
  MAX_INPUT,
  type ModalView,
  noRunnableWorkflowModal,
  type PostIn,
  RUN_FIELDS,
  type RunSource,
  runModal,
  runRefusedModal,
  runStartedModal,
} from './views/index.js';
import { viewStateValuesSchema } from './workflow-editor.js';

/**
 * "Run a workflow…" from a message or from the global shortcut (docs/slack.md). The
 * listener opens the modal (`open`), checks a submission with no Slack call so its errors
 * go back in the ack (`check`), then reads the message or thread, checks the bot may read
 * and post there, and starts the run (`start`), whose answer replaces the modal.
 *
 * Privacy: a message shortcut reaches only people who can see the message (Slack shows it
 * to them alone), the modal may be submitted only by whoever opened it, and the run is
 * posted in the message's own conversation (its thread or its channel), never elsewhere:
 * nothing read from a conversation reaches people outside it.
 */

/** A message shortcut's payload (docs.slack.dev/reference/interaction-payloads/shortcuts-interaction-payload). */
export const messageShortcutSchema = z.object({
  type: z.literal('message_action'),
  trigger_id: z.string().min(1),
  user: z.object({ id: z.string().min(1) }),
  channel: z.object({ id: z.string().min(1), name: z.string().nullish() }),
  message: z.object({
    ts: z.string().regex(/^\d+\.\d+$/),
    thread_ts: z
      .string()
      .regex(/^\d+\.\d+$/)
      .nullish(),
    reply_count: z.number().int().nonnegative().nullish(),
  }),
});

export const globalShortcutSchema = z.object({
  type: z.literal('shortcut'),
  trigger_id: z.string().min(1),
  user: z.object({ id: z.string().min(1) }),
});

/** The modal's submission: the fields "Run a workflow…" reads. */
export const runSubmissionSchema = z.object({
  type: z.literal('view_submission'),
  user: z.object({ id: z.string().min(1) }),
  view: z.object({
    id: z.string().min(1),
    private_metadata: z.string().default(''),
    state: z.object({ values: viewStateValuesSchema }),
  }),
});
type Values = z.infer<typeof runSubmissionSchema>['view']['state']['values'];

/** What a checked submission starts. */
export interface RunRequest {
  workflow: string;
  userId: string;
  source: RunSource;
  /** Message shortcut: put before the message or thread. */
  instructions: string;
  postIn: PostIn;
  /** Global shortcut: the text typed, and the channel picked. */
  input: string;
  channel: string | undefined;
}

export interface ShortcutServiceOptions {
  workflows: Pick<WorkflowStore, 'runnable'>;
  runs: Pick<RunsService, 'startRun'>;
  reader: Pick<ThreadReader, 'access' | 'read'>;
  policy: PermissionPolicy;
  logger: Logger;
}

const CHANNEL_ID = /^[CG][A-Z0-9]{2,}$/;

export class ShortcutService {
  constructor(private readonly o: ShortcutServiceOptions) {}

  /** Where a message shortcut was used: the thread's parent with replies means the whole thread. */
  sourceOfMessage(payload: z.infer<typeof messageShortcutSchema>): RunSource {
    const { message } = payload;
    const root = message.thread_ts ?? message.ts;
    return {
      kind: 'message',
      channel: payload.channel.id,
      channelName: payload.channel.name ?? '',
      ts: message.ts,
      root,
      whole: root === message.ts && (message.reply_count ?? 0) > 0,
      replies: message.reply_count ?? 0,
      user: payload.user.id,
    };
  }

  /** The modal to open: the workflows this person may run, or why there are none. */
  async open(source: RunSource): Promise<ModalView> {
    const runnable = (await this.o.workflows.runnable()).filter(
      (w) => mayRunWorkflow(source.user, w, this.o.policy).allowed,
    );
    if (runnable.length === 0) return noRunnableWorkflowModal();
    return runModal({ source, workflows: runnable });
  }

  /**
   * A submission, checked with the database only (it answers in the ack): errors keyed by
   * the modal's block ids, or the request to start.
   */
  async check(
    userId: string,
    source: RunSource,
    values: Values,
  ): Promise<{ errors: Record<string, string> } | { request: RunRequest }> {
    const field = (id: string) => values[id]?.value;
    if (source.user !== userId) {
      return { errors: { [RUN_FIELDS.workflow]: 'Only the person who opened this form can submit it.' } };
    }
    const name = field(RUN_FIELDS.workflow)?.selected_option?.value ?? '';
    const [workflow] = name ? await this.o.workflows.runnable({ name, includeDisabled: true }) : [];
    const problem = workflowProblem(name, workflow, userId, this.o.policy);
    if (problem) return { errors: { [RUN_FIELDS.workflow]: problem } };

    const instructions = (field(RUN_FIELDS.instructions)?.value ?? '').trim();
    const input = (field(RUN_FIELDS.input)?.value ?? '').trim();
    if (instructions.length > MAX_INPUT || input.length > MAX_INPUT) {
      const id = instructions.length > MAX_INPUT ? RUN_FIELDS.instructions : RUN_FIELDS.input;
      return { errors: { [id]: `At most ${MAX_INPUT} characters.` } };
    }
    if (source.kind === 'message') {
      const postIn = field(RUN_FIELDS.postIn)?.selected_option?.value;
      if (postIn !== 'thread' && postIn !== 'channel') {
        return {
          errors: { [RUN_FIELDS.postIn]: 'Pick where to post the run: in the thread or in the channel.' },
        };
      }
      return {
        request: { workflow: name, userId, source, instructions, postIn, input: '', channel: undefined },
      };
    }
    if (!input) return { errors: { [RUN_FIELDS.input]: 'Type or paste the input the workflow works on.' } };
    const channel = field(RUN_FIELDS.channel)?.selected_conversation ?? '';
    if (!CHANNEL_ID.test(channel)) {
      return { errors: { [RUN_FIELDS.channel]: 'Pick a channel to post the run in.' } };
    }
    return {
      request: { workflow: name, userId, source, instructions: '', postIn: 'channel', input, channel },
    };
  }

  /**
   * Reads the message or thread, checks the bot may read and post there, starts the run;
   * returns what the modal shows then. `viewId` makes the start idempotent: one run per modal.
   */
  async start(request: RunRequest, viewId: string): Promise<ModalView> {
    const { source } = request;
    const channel = source.kind === 'message' ? source.channel : request.channel!;
    const access = await this.o.reader.access(channel);
    if (source.kind === 'message' && !access?.canRead) {
      return runRefusedModal(
        `Switchboard can't read ${access?.name ?? 'this conversation'}: invite it with \`/invite @Switchboard\` (or run the workflow where it is), then try again.`,
      );
    }
    if (!access?.canPost) {
      return runRefusedModal(
        `Switchboard can't post in ${access?.name ?? 'that channel'}: invite it with \`/invite @Switchboard\`, or pick another channel.`,
      );
    }
    let input = request.input;
    if (source.kind === 'message') {
      const read = await this.o.reader.read(channel, {
        ts: source.ts,
        root: source.root,
        whole: source.whole,
      });
      if (!read.ok) return runRefusedModal(read.message);
      input = request.instructions ? `${request.instructions}\n\n${read.text}` : read.text;
    }
    const inThread = source.kind === 'message' && request.postIn === 'thread';
    try {
      const run = await this.o.runs.startRun({
        workflow: request.workflow,
        input,
        startedBy: request.userId,
        trigger: 'shortcut',
        channelId: channel,
        inThreadTs: inThread && source.kind === 'message' ? source.root : undefined,
        idempotencyKey: `slack-view:${viewId}`,
      });
      return runStartedModal({
        workflow: run.workflowName,
        number: run.number,
        where: inThread ? 'in the thread' : `in ${access.name}`,
      });
    } catch (error) {
      if (EngineError.isInstance(error)) return runRefusedModal(error.message);
      throw error;
    }
  }
}

/** Why `name` cannot be run by `userId` now (plain text: Slack shows modal errors as is), or undefined. */
function workflowProblem(
  name: string,
  workflow: RunnableWorkflow | undefined,
  userId: string,
  policy: PermissionPolicy,
): string | undefined {
  if (!name) return 'Pick a workflow.';
  if (!workflow) return `There is no workflow named ${name} any more (it was deleted). Pick another.`;
  if (!workflow.enabled) return `${name} was disabled meanwhile (its file was removed). Pick another.`;
  if (!mayRunWorkflow(userId, workflow, policy).allowed) {
    return `You can't run ${name}: only the people its file lists as runners, its owners and Switchboard admins can.`;
  }
  return undefined;
}
