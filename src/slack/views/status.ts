import type { RunStatus, RunTrigger, ScheduleName, StepStatus } from './model.js';
import { inlineCode, safeMrkdwn } from './text.js';

/** Status words and emoji shared by every view, so a status looks the same everywhere. */

export const STEP_STATUS: Record<StepStatus, { emoji: string; label: string }> = {
  pending: { emoji: ':hourglass_flowing_sand:', label: 'Pending' },
  running: { emoji: ':arrows_counterclockwise:', label: 'Running' },
  paused: { emoji: ':double_vertical_bar:', label: 'Paused' },
  awaiting_approval: { emoji: ':raised_hand:', label: 'Awaiting approval' },
  completed: { emoji: ':white_check_mark:', label: 'Completed' },
  skipped: { emoji: ':fast_forward:', label: 'Skipped' },
  cancelled: { emoji: ':no_entry_sign:', label: 'Cancelled' },
  failed: { emoji: ':x:', label: 'Failed' },
};

export const RUN_STATUS: Record<RunStatus, { emoji: string; label: string }> = {
  queued: { emoji: ':hourglass_flowing_sand:', label: 'Queued' },
  running: { emoji: ':arrows_counterclockwise:', label: 'Running' },
  paused: { emoji: ':double_vertical_bar:', label: 'Paused' },
  awaiting_approval: { emoji: ':raised_hand:', label: 'Awaiting approval' },
  completed: { emoji: ':white_check_mark:', label: 'Completed' },
  cancelled: { emoji: ':no_entry_sign:', label: 'Cancelled' },
  failed: { emoji: ':x:', label: 'Failed' },
};

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['completed', 'cancelled', 'failed']);

/** The card's menus exist only in these states (docs/architecture.md, "States"). */
export function isStepEditable(status: StepStatus): boolean {
  return status === 'pending' || status === 'paused';
}

const TRIGGER_WORDS: Record<RunTrigger, string> = {
  slash: 'with /workflow',
  schedule: 'on schedule',
  button: 'with a button',
  cli: 'from the CLI',
  api: 'through the API',
  shortcut: 'with a shortcut',
  workflow_step: 'from Workflow Builder',
};

export function triggerWords(trigger: RunTrigger): string {
  return TRIGGER_WORDS[trigger] ?? '';
}

const SLACK_USER_ID = /^[UW][A-Z0-9]+$/;

/** schedule `#2` (*release-notes* `0 9 * * 1-5` Europe/Berlin), as in `/workflow schedule list`. */
export function scheduleName(s: ScheduleName): string {
  return `schedule \`#${s.number}\` (*${safeMrkdwn(s.workflow)}* ${inlineCode(s.cron)} ${safeMrkdwn(s.timezone)})`;
}

/**
 * Who started a run, as mrkdwn. A Slack user id is ours (written by the slash-command
 * handler), so it may render as a mention; anything else is escaped text.
 */
export function starterMrkdwn(startedBy: string): string {
  return runStarter(startedBy, undefined);
}

/** Who started a run, naming the schedule that did (when known) as `/workflow schedule list` does. */
export function runStarter(startedBy: string, schedule: ScheduleName | null | undefined): string {
  if (SLACK_USER_ID.test(startedBy)) return `<@${startedBy}>`;
  // Named as `/workflow schedule list` names it; never by its internal id.
  if (startedBy.startsWith('schedule:')) return schedule ? scheduleName(schedule) : 'a schedule';
  if (startedBy.startsWith('cli:')) return `${safeMrkdwn(startedBy.slice('cli:'.length))} (CLI)`;
  // A Workflow Builder step with no "Run for" person: `workflow:<workflow_execution_id>`.
  if (startedBy.startsWith('workflow:')) return 'a Slack workflow';
  return safeMrkdwn(startedBy);
}

/**
 * `<!date^…>` renders a timestamp in each reader's own time zone; the part after `|` is the
 * fallback for clients that cannot. Invalid dates render as the escaped input.
 */
export function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return safeMrkdwn(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} at {time}|${new Date(ms).toISOString()}>`;
}

/** `▰▰▱▱▱` for 2 of 5. */
export function progressBar(done: number, total: number, width = 10): string {
  if (total <= 0) return '';
  const cells = Math.min(width, total);
  const filled = Math.max(0, Math.min(cells, Math.round((done / total) * cells)));
  return '▰'.repeat(filled) + '▱'.repeat(cells - filled);
}
