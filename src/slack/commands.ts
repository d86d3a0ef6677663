import { z } from 'zod';
import type { ModelCatalogue } from '../core/ports.js';
import type { PrismaClient } from '../db/database.js';
import { EngineError } from '../engine/engine-error.js';
import type { RunsService } from '../engine/runs.js';
import { PROVIDER_IDS, providerLabel } from '../providers/table.js';
import { definitionsGeneration, listWorkflows } from '../workflows/import-files.js';
import { mayActOnRun, type PermissionPolicy, runAccess } from './permissions.js';
import type { PersonaEditor } from './persona-editor.js';
import type { Publisher, SlackCallError } from './publisher.js';
import type { Renderer } from './renderer.js';
import type { RunViews } from './run-views.js';
import { parseScheduleCommand, type ScheduleCommand, type ScheduleCommands } from './schedule-commands.js';
import { inlineCode, safeMrkdwn } from './text.js';
import { isSlackTs, runView } from './view-model.js';
import {
  describeError,
  errorMessage,
  exportSentMessage,
  healthMessage,
  helpMessage,
  type ModalView,
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
import type { AuthoringService } from './workflow-editor.js';

/**
 * `/workflow run <name> [input…] | list | status [run] | cancel <run> | health | schedule …
 * | edit <name> | export <name> | persona list|add|edit <name> | help`.
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
  | { kind: 'schedule'; command: ScheduleCommand }
  | { kind: 'edit'; workflow: string }
  | { kind: 'export'; workflow: string }
  | { kind: 'persona'; action: 'list' | 'add' }
  | { kind: 'persona'; action: 'edit'; name: string }
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
    case 'schedule':
    case 'schedules':
      return { kind: 'schedule', command: parseScheduleCommand(text.slice(match[1]!.length)) };
    case 'edit':
      if (!arg) return { kind: 'usage', subcommand: 'edit', problem: 'Name the workflow to edit.' };
      return { kind: 'edit', workflow: arg };
    case 'export':
      if (!arg) return { kind: 'usage', subcommand: 'export', problem: 'Name the workflow to export.' };
      return { kind: 'export', workflow: arg };
    case 'persona':
    case 'personas':
      return parsePersona(arg?.toLowerCase(), rest);
    case 'help':
      return { kind: 'help' };
    default:
      return { kind: 'unknown', word: match[1]! };
  }
}

function parsePersona(action: string | undefined, rest: string): Command {
  if (action === undefined || action === 'list' || action === 'ls')
    return { kind: 'persona', action: 'list' };
  if (action === 'add' || action === 'new') return { kind: 'persona', action: 'add' };
  if (action === 'edit') {
    const name = rest.split(/\s+/)[0];
    if (!name) return { kind: 'usage', subcommand: 'persona', problem: 'Name the persona to edit.' };
    return { kind: 'persona', action: 'edit', name };
  }
  return {
    kind: 'usage',
    subcommand: 'persona',
    problem: `\`persona\` has no action "${action}": use list, add or edit.`,
  };
}

export interface CommandServiceOptions {
  prisma: PrismaClient;
  runs: RunsService;
  views: RunViews;
  renderer: Renderer;
  publisher: Publisher;
  catalogue: ModelCatalogue;
  policy: PermissionPolicy;
  schedules: ScheduleCommands;
  authoring: AuthoringService;
  personas: PersonaEditor;
}

export interface CommandContext {
  userId: string;
  channelId: string;
  /** Slack's trigger_id: unique per invocation, so a replayed request starts no second run. */
  triggerId?: string | undefined;
  /** Sends a late ephemeral answer (e.g. the run's message could not be posted). */
  respondLater?: (message: MessagePayload) => Promise<void>;
  /** views.open with this command's trigger_id (editors). */
  openModal?: (view: ModalView) => Promise<void>;
  /** Sends a file (a long export) privately to the user; says where it went. */
  sendFile?: (file: { filename: string; content: string; title: string }) => Promise<'dm' | 'channel'>;
}

/**
 * How long `/workflow list` answers from memory. This process's own edits show at once
 * (definitionsGeneration); this is how late another replica's (or the CLI's) may show.
 */
export const LIST_FRESH_MS = 2_000;

export class CommandService {
  private list: { message: MessagePayload; generation: number; at: number } | undefined;

  constructor(private readonly o: CommandServiceOptions) {}

  /**
   * The answer to `command` when it needs no I/O (help, a usage error, an unknown word, a
   * workflow list still fresh in memory), so the listener can give it in the ack itself:
   * one HTTP exchange, and nothing left to do after it. Undefined when `handle` must run.
   */
  instant(command: Command): MessagePayload | undefined {
    switch (command.kind) {
      case 'help':
        return helpMessage();
      case 'usage':
        return usageErrorMessage(command.subcommand, command.problem);
      case 'unknown':
        return unknownCommandMessage(command.word);
      case 'list': {
        const cached = this.list;
        const fresh =
          cached &&
          cached.generation === definitionsGeneration(this.o.prisma) &&
          Date.now() - cached.at < LIST_FRESH_MS;
        return fresh ? cached.message : undefined;
      }
      default:
        return undefined;
    }
  }

  /** Runs a parsed command; returns the ephemeral answer, or undefined when the thread is the answer. */
  async handle(command: Command, ctx: CommandContext): Promise<MessagePayload | undefined> {
    try {
      switch (command.kind) {
        case 'run':
          return await this.run(command.workflow, command.input, ctx);
        case 'list':
          return await this.workflowList();
        case 'status':
          return command.run ? await this.status(command.run) : await this.recent(ctx.channelId);
        case 'cancel':
          return await this.cancel(command.run, ctx);
        case 'health':
          return await this.health();
        case 'schedule':
          return await this.o.schedules.handle(command.command, ctx);
        case 'edit':
          return await this.edit(command.workflow, ctx);
        case 'export':
          return await this.export(command.workflow, ctx);
        case 'persona':
          return await this.persona(command, ctx);
        case 'help':
        case 'usage':
        case 'unknown':
          return this.instant(command);
      }
    } catch (error) {
      if (EngineError.isInstance(error)) return errorMessage(`${safeMrkdwn(error.message)}`);
      throw error;
    }
  }

  private async workflowList(): Promise<MessagePayload> {
    const generation = definitionsGeneration(this.o.prisma);
    const at = Date.now();
    const message = workflowListMessage(
      (await listWorkflows(this.o.prisma)).map((w) => ({ ...w, origin: this.o.authoring.originView(w) })),
    );
    // A write that ended while reading moved the generation on: instant() will not serve this answer.
    this.list = { message, generation, at };
    return message;
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

  /** The workflow a run belongs to (its name), for "Edit workflow" on the run's message. */
  async workflowOfRun(runId: string): Promise<string | undefined> {
    const run = await this.o.prisma.workflowRun.findUnique({
      where: { id: runId },
      select: { workflowName: true },
    });
    return run?.workflowName;
  }

  private async edit(name: string, ctx: CommandContext): Promise<MessagePayload | undefined> {
    const opened = await this.o.authoring.openEditor(name, ctx.userId);
    if ('refusal' in opened) return opened.refusal;
    if (!ctx.openModal) return errorMessage('The editor opens from a slash command or a button in Slack.');
    await ctx.openModal(opened.view);
    return undefined;
  }

  private async export(name: string, ctx: CommandContext): Promise<MessagePayload | undefined> {
    const exported = await this.o.authoring.export(name);
    if ('refusal' in exported) return exported.refusal;
    if (exported.message) return exported.message;
    if (!ctx.sendFile)
      return errorMessage('This workflow is too long to show here; use `npm run workflow -- list`.');
    const where = await ctx.sendFile({
      filename: exported.filename,
      content: exported.yaml,
      title: exported.filename,
    });
    return exportSentMessage(name, where);
  }

  private async persona(
    command: Extract<Command, { kind: 'persona' }>,
    ctx: CommandContext,
  ): Promise<MessagePayload | undefined> {
    if (command.action === 'list') return this.o.personas.list();
    const opened = await this.o.personas.open(
      command.action === 'edit' ? command.name : undefined,
      ctx.userId,
    );
    if ('refusal' in opened) return opened.refusal;
    if (!ctx.openModal) return errorMessage('The persona editor opens from a slash command in Slack.');
    await ctx.openModal(opened.view);
    return undefined;
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
        if (!configured.has(id)) return { id, label: providerLabel(id), configured: false };
        const last = await this.o.prisma.stepAttempt.findFirst({
          where: { provider: id },
          orderBy: { finishedAt: 'desc' },
          select: { outcome: true, errorKind: true, model: true },
        });
        const failed = last?.outcome === 'error';
        return {
          id,
          label: providerLabel(id),
          configured: true,
          models: this.o.catalogue.models(id).length,
          status: failed ? 'last call failed' : last ? 'ok' : 'not used yet',
          detail: failed
            ? `${describeError(last.errorKind ?? 'unknown', providerLabel(id), id)} (${last.model})`
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
