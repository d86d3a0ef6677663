import { suggest } from '../../core/suggest.js';
import { type Block, context, LIMITS, section } from './blocks.js';
import type { MessagePayload } from './model.js';
import { inlineCode, safeMrkdwn, truncate } from './text.js';

/** Ephemeral replies to `/workflow help` and to commands that could not be understood. */

export const SUBCOMMANDS = [
  'run',
  'list',
  'status',
  'cancel',
  'rerun',
  'health',
  'schedule',
  'edit',
  'export',
  'persona',
  'help',
] as const;

const USAGE: Record<(typeof SUBCOMMANDS)[number], string> = {
  run: '`/workflow run <name> [input]` — start a workflow; the input is everything after the name',
  list: '`/workflow list` — the workflows you can run',
  status: '`/workflow status [run]` — one run in detail, or the latest runs',
  cancel: '`/workflow cancel <run>` — stop a run; unfinished steps are cancelled',
  rerun:
    '`/workflow rerun <run> [from <step>]` — run a finished run again from a step (number or name; default: where it stopped), reusing the earlier outputs',
  health: '`/workflow health` — which providers are configured and answering',
  schedule:
    '`/workflow schedule add <name> "<cron>" [tz] [input]` — run it on a schedule in this channel; `schedule list`, `schedule pause|resume|remove <number>`',
  edit: '`/workflow edit <name>` — edit its steps, prompts, models, personas and fallbacks (owners and admins)',
  export: '`/workflow export <name>` — the definition as a workflow file (YAML)',
  persona: '`/workflow persona list|add|edit <name>` — the personas steps can use',
  help: '`/workflow help` — this message',
};

export function helpMessage(): MessagePayload {
  return {
    text: 'How to use /workflow',
    blocks: [
      section('help-head', '*Switchboard* runs multi-step LLM workflows in a thread, one card per step.'),
      section('help-usage', SUBCOMMANDS.map((c) => `• ${USAGE[c]}`).join('\n')),
      context('help-tip', [
        'While a step is pending or paused you can switch its provider/model and persona from its card. If a provider fails, the step pauses and its card offers *Retry*. A finished run’s cards offer *Re-run from here…*.',
      ]),
    ],
  };
}

/**
 * A short ephemeral error: what was wrong (safe mrkdwn), optionally "Did you mean …?" and a
 * hint line (safe mrkdwn).
 */
export function errorMessage(
  problem: string,
  opts: { suggestions?: readonly string[]; hint?: string } = {},
): MessagePayload {
  const suggestions = opts.suggestions ?? [];
  const lines = [`:warning: ${problem}`];
  if (suggestions.length > 0) lines.push(`Did you mean ${orList(suggestions.map((s) => inlineCode(s)))}?`);
  const blocks: Block[] = [section('error', lines.join(' '))];
  if (opts.hint) blocks.push(context('error-hint', [opts.hint]));
  // `problem` is already safe mrkdwn: cut it, do not escape it twice.
  return { text: truncate(lines.join(' '), LIMITS.fallbackText * 2), blocks };
}

/** A listener failed unexpectedly (the log has the details). */
export const OOPS_MESSAGE = errorMessage(
  'Something went wrong on our side and nothing was changed. The details are in the Switchboard log.',
);
/** A payload that did not parse. */
export const UNREADABLE_MESSAGE = errorMessage(
  'Slack sent something I could not read, so nothing was changed.',
);

/** "No workflow named `relase-notes`. Did you mean `release-notes`?" */
export function unknownWorkflowMessage(name: string, workflowNames: readonly string[]): MessagePayload {
  const suggestions = suggest(name, workflowNames);
  return errorMessage(`No workflow named ${inlineCode(name)}.`, {
    suggestions,
    hint: suggestions.length > 0 ? undefined : 'See `/workflow list` for the workflows you can run.',
  });
}

/** `/workflow status 9999` or `cancel abc`: no such run. */
export function unknownRunMessage(ref: string): MessagePayload {
  return errorMessage(`No run ${inlineCode(ref)}.`, {
    hint: 'Use the run number shown on the run, e.g. `/workflow status 42`, or `/workflow status` for the latest runs.',
  });
}

/** `/workflow sattus` → "Did you mean `status`?" */
export function unknownCommandMessage(subcommand: string): MessagePayload {
  return errorMessage(`\`/workflow\` has no command ${inlineCode(subcommand)}.`, {
    suggestions: suggest(subcommand, SUBCOMMANDS),
    hint: 'Try `/workflow help`.',
  });
}

/** A command with missing or bad arguments: what was wrong and its usage line. */
export function usageErrorMessage(subcommand: (typeof SUBCOMMANDS)[number], problem: string): MessagePayload {
  return errorMessage(safeMrkdwn(problem), { hint: `Usage: ${USAGE[subcommand]}` });
}

/** `a`, `a or b`, `a, b or c`. */
function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** The answer to `/workflow cancel` once the run is cancelled. */
export function cancelledMessage(runNumber: number, workflow: string): MessagePayload {
  return {
    text: `Cancelled run #${runNumber}`,
    blocks: [
      section(
        'cancelled',
        `:no_entry_sign: Cancelled run #${runNumber} (${inlineCode(workflow)}). Steps that had not finished are cancelled.`,
      ),
    ],
  };
}

/** The late answer when the run's parent message could not be posted in the channel. */
export function cannotPostMessage(runNumber: number, slackError: string): MessagePayload {
  const why =
    slackError === 'not_in_channel' || slackError === 'channel_not_found'
      ? 'I am not a member of this channel. Invite me with `/invite @Switchboard`, or start the run from a channel I am in.'
      : `Slack refused the message (${inlineCode(slackError)}).`;
  return errorMessage(`Run #${runNumber} started, but I could not post it here. ${why}`, {
    hint: `Follow it with \`/workflow status ${runNumber}\`.`,
  });
}
