import { z } from 'zod';
import type { PrismaClient } from '../db/database.js';
import { EngineError } from '../engine/errors.js';
import type { RunsService } from '../engine/runs.js';
import { PROVIDER_IDS, PROVIDER_LABELS } from '../providers/catalogue.js';
import type { ModelCatalogue } from '../workflows/catalogue-port.js';
import { listWorkflows } from '../workflows/sync.js';
import { mayActOnRun, type PermissionPolicy, runAccess } from './permissions.js';
import type { Publisher, SlackCallError } from './publisher.js';
import type { Renderer } from './renderer.js';
import type { RunViews } from './run-views.js';
import { inlineCode, safeMrkdwn } from './text.js';
import { isSlackTs, runView } from './view-model.js';
import {
  describeError,
  errorMessage,
  healthMessage,
  helpMessage,
  recentRunsMessage,
  runStatusMessage,
  type SUBCOMMANDS,
  unknownCommandMessage,
  unknownRunMessage,
  unknownWorkflowMessage,
  usageErrorMessage,
  workflowListMessage,
} from './views/index.js';
import type { MessagePayload } from './views/model.js';

/**
 * `/workflow run <name> [input…] | list | status [run] | cancel <run> | health | help`.
 * The listener acks first and then calls `handle`, whose answer (if any) goes back to the
 * user ephemerally through the command's response_url.
 */

/** The fields of Slack's slash-command body we use (form-encoded; all strings). */
export const slashCommandSchema = z.object({
  command: z.string(),
  text: z.string().default(''),
  user_id: z.string().min(1),
  channel_id: z.string().min(1),
  response_url: z.string().optional(),
  trigger_id: z.string().optional(),
});

export type SlashCommandInput = z.infer<typeof slashCommandSchema>;

export type Command =
  | { kind: 'run'; workflow: string; input: string }
  | { kind: 'list' }
  | { kind: 'status'; run?: string }
  | { kind: 'cancel'; run: string }
  | { kind: 'health' }
  | { kind: 'help' }
  | { kind: 'usage'; subcommand: (typeof SUBCOMMANDS)[number]; problem: string }
  | { kind: 'unknown'; word: string };

/**
 * Slack sends `&`, `<` and `>` in command text as HTML entities; the input is handed to a
 * model, so it gets the characters the user typed. (Every view escapes it again for Slack.)
 */
export function decodeSlackText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Pure: command text → what to do. The input after a workflow name keeps its newlines. */
export function parseCommand(rawText: string): Command {
  const text = decodeSlackText(rawText).trim();
  const match = /^(\S+)(?:\s+(\S+))?(?:\s+([\s\S]*))?$/.exec(text);
  if (!match) return { kind: 'help' };
  const sub = match[1]!.toLowerCase();
  const arg = match[2];
  const rest = match[3]?.trim() ?? '';
  switch (sub) {
    case 'run':
      if (!arg) return { kind: 'usage', subcommand: 'run', problem: 'Name the workflow to run.' };
      return { kind: 'run', workflow: arg, input: rest };
    case 'list':
      return { kind: 'list' };
    case 'status':
      return arg ? { kind: 'status', run: arg } : { kind: 'status' };
    case 'cancel':
      if (!arg)
        return { kind: 'usage', subcommand: 'cancel', problem: 'Say which run to cancel, by its number.' };
      return { kind: 'cancel', run: arg };
    case 'health':
      return { kind: 'health' };
    case 'help':
      return { kind: 'help' };
    default:
      return { kind: 'unknown', word: match[1]! };
  }
}

export interface CommandServiceOptions {
  prisma: PrismaClient;
  runs: RunsService;
  views: RunViews;
  renderer: Renderer;
  publisher: Publisher;
  catalogue: ModelCatalogue;
  policy: PermissionPolicy;
}

export interface CommandContext {
  userId: string;
  channelId: string;
  /** Slack's trigger_id: unique per invocation, so a replayed request starts no second run. */
  triggerId?: string | undefined;
  /** Sends a late ephemeral answer (e.g. the run's message could not be posted). */
  respondLater?: (message: MessagePayload) => Promise<void>;
}

export class CommandService {
  constructor(private readonly o: CommandServiceOptions) {}

  /** Runs a parsed command; returns the ephemeral answer, or undefined when the thread is the answer. */
  async handle(command: Command, ctx: CommandContext): Promise<MessagePayload | undefined> {
    try {
      switch (command.kind) {
        case 'run':
          return await this.run(command.workflow, command.input, ctx);
        case 'list':
          return workflowListMessage(await listWorkflows(this.o.prisma));
        case 'status':
          return command.run ? await this.status(command.run) : await this.recent(ctx.channelId);
        case 'cancel':
          return await this.cancel(command.run, ctx);
        case 'health':
          return await this.health();
        case 'help':
          return helpMessage();
        case 'usage':
          return usageErrorMessage(command.subcommand, command.problem);
        case 'unknown':
          return unknownCommandMessage(command.word);
      }
    } catch (error) {
      if (EngineError.isInstance(error)) return errorMessage(`${safeMrkdwn(error.message)}`);
      throw error;
    }
  }

  private async run(
    workflow: string,
    input: string,
    ctx: CommandContext,
  ): Promise<MessagePayload | undefined> {
    try {
      const run = await this.o.runs.startRun({
        workflow,
        input,
        startedBy: ctx.userId,
        trigger: 'slash',
        channelId: ctx.channelId,
        idempotencyKey: ctx.triggerId ? `slack:${ctx.triggerId}` : undefined,
      });
      if (ctx.respondLater && !run.replayed) {
        const respond = ctx.respondLater;
        this.o.renderer.onParentFailure(
          run.id,
          (error) => void respond(cannotPostMessage(run.number, error)),
        );
      }
      return undefined;
    } catch (error) {
      if (!EngineError.isInstance(error)) throw error;
      if (error.code === 'not_found') {
        const names = (await listWorkflows(this.o.prisma)).map((w) => w.name);
        return unknownWorkflowMessage(workflow, names);
      }
      if (error.code === 'input_too_large') return usageErrorMessage('run', error.message);
      return errorMessage(safeMrkdwn(error.message));
    }
  }

  private async status(ref: string): Promise<MessagePayload> {
    let runId: string;
    try {
      runId = (await this.o.runs.findRun(ref)).id;
    } catch (error) {
      if (EngineError.isInstance(error) && error.code === 'not_found') return unknownRunMessage(ref);
      throw error;
    }
    const loaded = await this.o.views.load(runId);
    if (!loaded) return unknownRunMessage(ref);
    const { row } = loaded;
    let permalink: string | undefined;
    if (row.channelId && isSlackTs(row.threadTs)) {
      try {
        const result = await this.o.publisher.call('chat.getPermalink', {
          channel: row.channelId,
          message_ts: row.threadTs,
        });
        permalink = typeof result.permalink === 'string' ? result.permalink : undefined;
      } catch {
        // The status is still worth showing without a link.
      }
    }
    return runStatusMessage(loaded.run, loaded.steps, { permalink, providers: loaded.menus.providers });
  }

  private async recent(channelId: string): Promise<MessagePayload> {
    const include = { steps: { orderBy: { position: 'asc' as const } } };
    let rows = await this.o.prisma.workflowRun.findMany({
      where: { channelId },
      orderBy: { number: 'desc' },
      take: 10,
      include,
    });
    if (rows.length === 0) {
      rows = await this.o.prisma.workflowRun.findMany({ orderBy: { number: 'desc' }, take: 10, include });
    }
    return recentRunsMessage(rows.map(runView));
  }

  /**
   * The App Home tab: how to use /workflow and the runs this person started lately. Built
   * from the same views as the ephemeral answers.
   */
  async homeBlocks(userId: string): Promise<MessagePayload['blocks']> {
    const rows = await this.o.prisma.workflowRun.findMany({
      where: { startedBy: userId },
      orderBy: { number: 'desc' },
      take: 10,
      include: { steps: { orderBy: { position: 'asc' } } },
    });
    return [...helpMessage().blocks, ...recentRunsMessage(rows.map(runView)).blocks];
  }

  private async cancel(ref: string, ctx: CommandContext): Promise<MessagePayload> {
    let run: Awaited<ReturnType<RunsService['findRun']>>;
    try {
      run = await this.o.runs.findRun(ref);
    } catch (error) {
      if (EngineError.isInstance(error) && error.code === 'not_found') return unknownRunMessage(ref);
      throw error;
    }
    const access = await runAccess(this.o.prisma, run.id);
    if (!access) return unknownRunMessage(ref);
    const decision = mayActOnRun({ userId: ctx.userId, channelId: ctx.channelId }, access, this.o.policy);
    if (!decision.allowed) return errorMessage(decision.message);
    await this.o.runs.cancelRun(run.id, ctx.userId);
    return {
      text: `Cancelled run #${run.number}`,
      blocks: [
        {
          type: 'section',
          block_id: 'cancelled',
          text: {
            type: 'mrkdwn',
            text: `:no_entry_sign: Cancelled run #${run.number} (${inlineCode(run.workflowName)}). Steps that had not finished are cancelled.`,
          },
        },
      ],
    };
  }

  private async health(): Promise<MessagePayload> {
    const configured = new Set(this.o.catalogue.providers);
    const providers = await Promise.all(
      PROVIDER_IDS.map(async (id) => {
        if (!configured.has(id)) return { id, label: PROVIDER_LABELS[id], configured: false };
        const last = await this.o.prisma.stepAttempt.findFirst({
          where: { provider: id },
          orderBy: { finishedAt: 'desc' },
          select: { outcome: true, errorKind: true, model: true },
        });
        const failed = last?.outcome === 'error';
        return {
          id,
          label: PROVIDER_LABELS[id],
          configured: true,
          models: this.o.catalogue.models(id).length,
          status: failed ? 'last call failed' : last ? 'ok' : 'not used yet',
          detail: failed
            ? `${describeError(last.errorKind ?? 'unknown', PROVIDER_LABELS[id], id)} (${last.model})`
            : null,
        };
      }),
    );
    return healthMessage(providers);
  }
}

/** The late answer when the run's parent message could not be posted in the channel. */
export function cannotPostMessage(runNumber: number, error: SlackCallError): MessagePayload {
  const why =
    error.slackError === 'not_in_channel' || error.slackError === 'channel_not_found'
      ? 'I am not a member of this channel. Invite me with `/invite @Switchboard`, or start the run from a channel I am in.'
      : `Slack refused the message (${inlineCode(error.slackError)}).`;
  return errorMessage(`Run #${runNumber} started, but I could not post it here. ${why}`, {
    hint: `Follow it with \`/workflow status ${runNumber}\`.`,
  });
}
