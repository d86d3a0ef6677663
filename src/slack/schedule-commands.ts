import { isValidTimezone } from '../core/timezone.js';
import type { WorkflowStore } from '../db/workflow-store.js';
import {
  ScheduleError,
  type ScheduleService,
  type ScheduleView,
  unknownSchedule,
} from '../schedules/service.js';
import type { ScheduleAction } from './permissions.js';
import { errorMessage, usageErrorMessage } from './views/index.js';
import type { MessagePayload } from './views/model.js';
import { scheduleChangedMessage, scheduleListMessage } from './views/schedules.js';
import { inlineCode, safeMrkdwn } from './views/text.js';
import type { Visibility } from './visibility.js';

/**
 * `/workflow schedule add <name> "<cron>" [tz] [input] | list [name] | pause|resume|remove
 * <number>`: parsing (pure) and the handler, which checks permission and calls the
 * ScheduleService; its typed refusals become ephemeral errors.
 */

export type ScheduleCommand =
  | { action: 'add'; workflow: string; cron: string; timezone?: string | undefined; input: string }
  | { action: 'list'; workflow?: string | undefined }
  | { action: 'pause' | 'resume' | 'remove'; ref: string }
  | { action: 'usage'; problem: string };

// Slack clients may turn straight quotes into curly ones: accept both, and backticks.
const OPEN_QUOTE = `"“”'‘’\``;
const QUOTED = new RegExp(`^[${OPEN_QUOTE}]([^${OPEN_QUOTE}]*)[${OPEN_QUOTE}](?:\\s+([\\s\\S]*))?$`);
const ZONE_LIKE = /^(?:[A-Za-z][A-Za-z0-9_+-]*\/[A-Za-z0-9_+/-]+|UTC|GMT|Z)$/i;

const ADD_EXAMPLE = 'e.g. `/workflow schedule add release-notes "0 9 * * 1-5" Europe/Berlin`';

/** Pure: the words after `/workflow schedule`. */
export function parseScheduleCommand(text: string): ScheduleCommand {
  const match = /^(\S+)(?:\s+([\s\S]*))?$/.exec(text.trim());
  const action = match?.[1]?.toLowerCase();
  const rest = match?.[2]?.trim() ?? '';
  switch (action) {
    case 'add':
      return parseAdd(rest);
    case 'list':
    case 'ls':
      return { action: 'list', workflow: rest.split(/\s+/)[0] || undefined };
    case 'pause':
    case 'resume':
    case 'remove':
    case 'delete': {
      const ref = rest.split(/\s+/)[0];
      const verb = action === 'delete' ? 'remove' : action;
      if (!ref) {
        return {
          action: 'usage',
          problem: `Say which schedule to ${verb}, by its number (\`/workflow schedule list\` shows them).`,
        };
      }
      return { action: verb, ref };
    }
    default:
      return {
        action: 'usage',
        problem: action
          ? `\`schedule\` has no action "${action}": use add, list, pause, resume or remove.`
          : 'Say what to do: add, list, pause, resume or remove.',
      };
  }
}

function parseAdd(rest: string): ScheduleCommand {
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(rest);
  if (!m) return { action: 'usage', problem: `Name the workflow and the cron expression, ${ADD_EXAMPLE}.` };
  const workflow = m[1]!;
  const after = m[2]?.trim() ?? '';
  let cron: string;
  let tail: string;
  const quoted = QUOTED.exec(after);
  if (quoted) {
    cron = quoted[1]!;
    tail = quoted[2]?.trim() ?? '';
  } else if (after.startsWith('@')) {
    // @daily, @hourly…: one word, no spaces to quote.
    const [word, ...others] = after.split(/\s+/);
    cron = word!;
    tail = others.join(' ');
  } else {
    return {
      action: 'usage',
      problem: after
        ? `Put the cron expression in quotes, ${ADD_EXAMPLE}.`
        : `Add a cron expression in quotes, ${ADD_EXAMPLE}.`,
    };
  }
  const [first, ...others] = tail.split(/(\s+)/);
  // A word shaped like a time zone is one (and an unknown one is reported as such).
  if (first && (isValidTimezone(first) || ZONE_LIKE.test(first))) {
    return { action: 'add', workflow, cron, timezone: first, input: others.join('').trim() };
  }
  return { action: 'add', workflow, cron, input: tail };
}

export interface ScheduleCommandsOptions {
  workflows: Pick<WorkflowStore, 'facts'>;
  service: ScheduleService;
  /** Who may see which schedule (its channel's members) and change it (visibility.ts). */
  visibility: Visibility;
}

export class ScheduleCommands {
  constructor(private readonly o: ScheduleCommandsOptions) {}

  async handle(
    command: ScheduleCommand,
    ctx: { userId: string; channelId: string },
  ): Promise<MessagePayload> {
    try {
      switch (command.action) {
        case 'usage':
          return usageErrorMessage('schedule', command.problem);
        case 'list': {
          const all = await this.o.service.listSchedules({ workflow: command.workflow });
          // A schedule shows its channel and its input: only to people who may see that channel.
          return scheduleListMessage(await this.o.visibility.filter(ctx.userId, all, (s) => s.channelId));
        }
        case 'add':
          return await this.add(command, ctx);
        default:
          return await this.change(command.action, command.ref, ctx);
      }
    } catch (error) {
      if (ScheduleError.isInstance(error)) return scheduleErrorMessage(error);
      throw error;
    }
  }

  private async add(
    command: Extract<ScheduleCommand, { action: 'add' }>,
    ctx: { userId: string; channelId: string },
  ): Promise<MessagePayload> {
    const workflow = await this.o.workflows.facts({ name: command.workflow });
    // An unknown workflow is the service's to report (with suggestions); a known one is checked first.
    if (workflow) {
      const decision = await this.o.visibility.mayManageSchedule(
        ctx.userId,
        { workflow: workflow.name, owners: workflow.owners, channelId: ctx.channelId },
        'add',
      );
      if (!decision.allowed) return errorMessage(decision.message);
    }
    const view = await this.o.service.addSchedule({
      workflow: command.workflow,
      cron: command.cron,
      timezone: command.timezone,
      input: command.input,
      channelId: ctx.channelId,
      createdBy: ctx.userId,
    });
    return scheduleChangedMessage('added', view);
  }

  private async change(
    action: 'pause' | 'resume' | 'remove',
    ref: string,
    ctx: { userId: string; channelId: string },
  ): Promise<MessagePayload> {
    const schedule = await this.o.service.getSchedule(ref);
    // One nobody may see is answered as one that does not exist.
    if (!(await this.o.visibility.canSee(ctx.userId, schedule.channelId))) throw unknownSchedule(ref);
    const denied = await this.refusal(schedule, action, ctx);
    if (denied) return denied;
    if (action === 'pause')
      return scheduleChangedMessage('paused', await this.o.service.pauseSchedule(ref, ctx.userId));
    if (action === 'resume')
      return scheduleChangedMessage('resumed', await this.o.service.resumeSchedule(ref, ctx.userId));
    return scheduleChangedMessage('removed', await this.o.service.removeSchedule(ref, ctx.userId));
  }

  private async refusal(
    schedule: ScheduleView,
    action: ScheduleAction,
    ctx: { userId: string; channelId: string },
  ): Promise<MessagePayload | undefined> {
    const workflow = await this.o.workflows.facts({ name: schedule.workflow });
    const decision = await this.o.visibility.mayManageSchedule(
      ctx.userId,
      {
        workflow: schedule.workflow,
        owners: workflow?.owners ?? [],
        createdBy: schedule.createdBy,
        channelId: schedule.channelId,
      },
      action,
    );
    return decision.allowed ? undefined : errorMessage(decision.message);
  }
}

/** A ScheduleError's message is written for the user; it may quote what they typed, so it is escaped. */
export function scheduleErrorMessage(error: ScheduleError): MessagePayload {
  const problem = safeMrkdwn(error.message);
  if (error.code === 'unknown_workflow') {
    const offered = /Did you mean/.test(error.message) ? [] : error.suggestions;
    return errorMessage(problem, {
      hint:
        offered.length > 0
          ? `Workflows: ${offered.map((n) => inlineCode(n)).join(', ')}`
          : 'See `/workflow list` for the workflows.',
    });
  }
  if (error.code === 'invalid_cron' || error.code === 'invalid_timezone' || error.code === 'invalid_input') {
    return usageErrorMessage('schedule', error.message);
  }
  return errorMessage(problem);
}
