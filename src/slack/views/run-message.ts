import { formatCost, formatUsd } from '../../core/cost.js';
import { ACTIONS, RUN_MORE_EDIT, runBlockId } from './action-ids.js';
import {
  actions,
  type Block,
  type Button,
  button,
  context,
  LIMITS,
  option,
  plain,
  section,
} from './blocks.js';
import type { MessagePayload, RunView, UsageView } from './model.js';
import { progressBar, RUN_STATUS, runStarter, slackDate, starterMrkdwn, triggerWords } from './status.js';
import { excerpt, formatCount, mrkdwn, quoteLine } from './text.js';

export interface RunMessageOptions {
  /** Characters of the input shown on the parent message (default 300). */
  inputExcerpt?: number;
}

/**
 * The run's parent message in the channel; its thread holds one card per step. Buttons
 * follow the run's state: running/queued → Pause + Cancel, paused → Resume + Cancel,
 * finished → none. The summary's overflow menu offers "Edit workflow" whatever the state: the
 * definition is edited, never the run (a run keeps its snapshot).
 */
export function runParentMessage(run: RunView, opts: RunMessageOptions = {}): MessagePayload {
  const id = (part: string) => runBlockId(run.id, run.version ?? 0, part);
  const status = RUN_STATUS[run.status];
  const title = `${run.workflowName} · run #${run.number}`;
  const progress = `${run.stepsCompleted}/${run.stepsTotal}`;

  const blocks: Block[] = [
    { type: 'header', block_id: id('head'), text: plain(title, LIMITS.headerText) },
    {
      ...section(
        id('summary'),
        [
          `${status.emoji} *${status.label}* · ${progressBar(run.stepsCompleted, run.stepsTotal)} ${progress} steps`,
          run.startedBy.startsWith('schedule:')
            ? `Started by ${runStarter(run.startedBy, run.schedule)} · ${slackDate(run.createdAt)}`
            : `Started by ${starterMrkdwn(run.startedBy)} ${triggerWords(run.trigger)} · ${slackDate(run.createdAt)}`,
        ].join('\n'),
      ),
      accessory: {
        type: 'overflow',
        action_id: ACTIONS.runMore,
        options: [option('Edit workflow…', RUN_MORE_EDIT)],
      },
    },
  ];
  if (run.description) blocks.push(context(id('about'), [mrkdwn(excerpt(run.description, 300), 1000)]));
  const facts = runFacts(run);
  if (facts.length > 0) blocks.push(context(id('usage'), facts));
  if (run.input.trim()) {
    blocks.push(section(id('input'), `*Input*\n${quoteLine(run.input, opts.inputExcerpt ?? 300)}`));
  }
  if (run.reason && run.status !== 'running' && run.status !== 'queued') {
    blocks.push(section(id('reason'), `*Why:* ${mrkdwn(excerpt(run.reason, 500), 1500)}`));
  }

  const controls = runButtons(run);
  if (controls.length > 0) blocks.push(actions(id('controls'), controls));

  return {
    text: mrkdwn(`${title} — ${status.label}, ${progress} steps`, LIMITS.fallbackText),
    blocks,
  };
}

/** "3,000 in / 500 out tokens · $0.0042" (docs/control.md, "Cost"). */
export function usageWords(usage: UsageView): string {
  return `${formatCount(usage.inputTokens)} in / ${formatCount(usage.outputTokens)} out tokens · ${formatCost(usage.cost)}`;
}

/** Tokens and cost so far, the run's own cap, and what it re-runs. */
function runFacts(run: RunView): string[] {
  const facts: string[] = [];
  if (run.rerunOf) facts.push(`:repeat: Re-run of #${run.rerunOf.number} from step ${run.rerunOf.fromStep}`);
  if (run.usage && (run.usage.inputTokens > 0 || run.usage.outputTokens > 0 || run.usage.cost.unpriced > 0))
    facts.push(usageWords(run.usage));
  if (run.budgetUsd != null) facts.push(`cap ${formatUsd(run.budgetUsd)}`);
  return facts;
}

function runButtons(run: RunView): Button[] {
  const cancel = button({
    actionId: ACTIONS.runCancel,
    text: 'Cancel',
    value: run.id,
    style: 'danger',
    confirm: {
      title: `Cancel run #${run.number}?`,
      text: 'Steps that have not finished are cancelled. This cannot be undone.',
      confirm: 'Cancel run',
      deny: 'Keep running',
    },
  });
  switch (run.status) {
    case 'queued':
    case 'running':
      return [button({ actionId: ACTIONS.runPause, text: 'Pause', value: run.id }), cancel];
    case 'paused':
      return [
        button({ actionId: ACTIONS.runResume, text: 'Resume', value: run.id, style: 'primary' }),
        cancel,
      ];
    case 'awaiting_approval':
      // The decision is on the step's card; the run can only be stopped from here.
      return [cancel];
    default:
      return [];
  }
}
