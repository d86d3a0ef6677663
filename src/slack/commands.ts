import type { ModelCatalogue } from '../core/ports.js';
import type { Stores } from '../db/stores.js';
import { EngineError } from '../engine/engine-error.js';
import type { RunsService } from '../engine/runs.js';
import { describeHealth } from '../health/describe.js';
import type { ProviderHealth } from '../health/monitor.js';
import { quietRow } from '../health/stats.js';
import type { Command } from './command-parser.js';
import type { ControlActions } from './control-actions.js';
import { mayRunWorkflow, type PermissionPolicy } from './permissions.js';
import type { PersonaEditor } from './persona-editor.js';
import type { Publisher } from './publisher.js';
import type { PostFailureListener, Renderer } from './renderer.js';
import type { RunViews } from './run-views.js';
import type { ScheduleCommands } from './schedule-commands.js';
import { isSlackTs, runView } from './view-model.js';
import {
  cancelledMessage,
  cannotPostMessage,
  errorMessage,
  exportSentMessage,
  healthMessage,
  helpMessage,
  type ModalView,
  recentRunsMessage,
  runStatusMessage,
  unknownCommandMessage,
  unknownRunMessage,
  unknownWorkflowMessage,
  usageErrorMessage,
  workflowListMessage,
} from './views/index.js';
import type { MessagePayload } from './views/model.js';
import { safeMrkdwn } from './views/text.js';
import type { Visibility } from './visibility.js';
import type { AuthoringService } from './workflow-editor.js';

/**
 * What `/workflow …` does (the parsed Command, src/slack/command-parser.ts). The listener
 * acks first and then calls `handle`, whose answer (if any) goes back to the user
 * ephemerally through the command's response_url.
 */

export interface CommandServiceOptions {
  stores: Pick<Stores, 'reads' | 'workflows'>;
  health: ProviderHealth;
  runs: RunsService;
  views: RunViews;
  renderer: Renderer;
  publisher: Publisher;
  catalogue: ModelCatalogue;
  /** Who may see and act on which run (visibility.ts). */
  visibility: Visibility;
  /** Who may start which workflow (runners:, owners, admins). */
  policy: PermissionPolicy;
  schedules: ScheduleCommands;
  authoring: AuthoringService;
  personas: PersonaEditor;
  control: ControlActions;
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
          cached.generation === this.o.stores.workflows.generation() &&
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
          return command.run ? await this.status(command.run, ctx) : await this.recent(ctx);
        case 'cancel':
          return await this.cancel(command.run, ctx);
        case 'rerun':
          return await this.o.control.rerunCommand(command, ctx);
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
    const generation = this.o.stores.workflows.generation();
    const at = Date.now();
    const message = workflowListMessage(
      (await this.o.stores.workflows.list()).map((w) => ({ ...w, origin: this.o.authoring.originView(w) })),
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
    const [target] = await this.o.stores.workflows.runnable({ name: workflow });
    const decision = target ? mayRunWorkflow(ctx.userId, target, this.o.policy) : undefined;
    if (decision && !decision.allowed) return errorMessage(decision.message);
    try {
      const run = await this.o.runs.startRun({
        workflow,
        input,
        startedBy: ctx.userId,
        trigger: 'slash',
        channelId: ctx.channelId,
        idempotencyKey: ctx.triggerId ? `slack:${ctx.triggerId}` : undefined,
      });
      if (ctx.respondLater && !run.replayed)
        this.o.renderer.onParentFailure(run.id, parentFailureAnswer(ctx.respondLater, run.number));
      return undefined;
    } catch (error) {
      if (!EngineError.isInstance(error)) throw error;
      if (error.code === 'not_found') {
        const names = await this.o.stores.workflows.names();
        return unknownWorkflowMessage(workflow, names);
      }
      if (error.code === 'input_too_large') return usageErrorMessage('run', error.message);
      if (error.code === 'too_many_runs') return errorMessage(safeMrkdwn(error.message));
      return errorMessage(safeMrkdwn(error.message));
    }
  }

  /** One run, for someone who may see it; anyone else gets the answer a missing run gets. */
  private async status(ref: string, ctx: CommandContext): Promise<MessagePayload> {
    let runId: string;
    try {
      runId = (await this.o.runs.findRun(ref)).id;
    } catch (error) {
      if (EngineError.isInstance(error) && error.code === 'not_found') return unknownRunMessage(ref);
      throw error;
    }
    if (!(await this.o.visibility.seenRun(ctx.userId, runId))) return unknownRunMessage(ref);
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

  /**
   * The latest runs of this channel; with none here, the latest runs the user may see
   * elsewhere — never another channel's runs they are not in.
   */
  private async recent(ctx: CommandContext): Promise<MessagePayload> {
    const { visibility } = this.o;
    let rows = (await visibility.canSee(ctx.userId, ctx.channelId))
      ? await this.o.stores.reads.recentRuns({ channelId: ctx.channelId, take: 10 })
      : [];
    if (rows.length === 0) rows = await visibility.recentRuns(ctx.userId, 10);
    const usage = await this.o.stores.reads.usageOf(rows.map((r) => r.id));
    return recentRunsMessage(rows.map((r) => runView(r, { usage: usage.get(r.id) })));
  }

  /** The workflow a run belongs to (its name), for "Edit workflow" on the run's message. */
  async workflowOfRun(runId: string): Promise<string | undefined> {
    return this.o.stores.reads.workflowNameOf(runId);
  }

  private async edit(name: string, ctx: CommandContext): Promise<MessagePayload | undefined> {
    const opened = await this.o.authoring.openEditor(name, ctx.userId);
    if ('refusal' in opened) return opened.refusal;
    if (!ctx.openModal) return errorMessage('The editor opens from a slash command or a button in Slack.');
    await ctx.openModal(opened.view);
    return undefined;
  }

  private async export(name: string, ctx: CommandContext): Promise<MessagePayload | undefined> {
    // A file's schedules name their channel and input: only those the user may see go out.
    const exported = await this.o.authoring.export(name, {
      keepSchedules: (schedules) => this.o.visibility.filter(ctx.userId, schedules, (s) => s.channel),
    });
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
    const check = await this.o.visibility.mayAct(ctx.userId, run.id);
    if (!check.allowed) return check.unseen ? unknownRunMessage(ref) : errorMessage(check.message);
    await this.o.runs.cancelRun(run.id, ctx.userId);
    return cancelledMessage(run.number, run.workflowName);
  }

  /** Every provider: its recent calls and circuit state (src/health), or that it is not configured. */
  private async health(): Promise<MessagePayload> {
    const configured = new Set(this.o.catalogue.providers);
    const rows = await this.o.health.providers();
    return healthMessage(
      this.o.catalogue.knownProviders.map((id) => ({
        label: this.o.catalogue.label(id),
        configured: configured.has(id),
        models: configured.has(id) ? this.o.catalogue.models(id).length : undefined,
        figures: configured.has(id)
          ? describeHealth(rows.find((r) => r.provider === id) ?? quietRow(id))
          : undefined,
      })),
    );
  }
}

/**
 * What the starter is told when a run's parent cannot be posted. Kept until the parent is
 * posted (Renderer.onParentFailure), so it holds the run's number only, not the run.
 */
function parentFailureAnswer(
  respond: (message: MessagePayload) => Promise<void>,
  runNumber: number,
): PostFailureListener {
  return (error) => void respond(cannotPostMessage(runNumber, error.slackError));
}
