import type { types } from '@slack/bolt';
import { type CostTotal, formatCost, formatUsd } from '../../core/cost.js';
import {
  ACTIONS,
  alertBlockId,
  alertRetryWithActionId,
  type ModelChoice,
  retryWithValue,
  stepBlockId,
} from './action-ids.js';
import { approvalBlocks } from './approval.js';
import { actions, type Block, type Button, button, context, LIMITS, plain, section } from './blocks.js';
import { describeError, errorAdvice, providerLabel } from './error-words.js';
import { packLines } from './list.js';
import type { MenuOptions, RunView, StepView } from './model.js';
import { type ScheduleFacts, scheduleLine } from './schedules.js';
import { RUN_STATUS, slackDate, starterMrkdwn } from './status.js';
import { modelSelect, personaSelect } from './step-card.js';
import { excerpt, inlineCode, safeMrkdwn } from './text.js';

/**
 * The App Home tab: runs that need someone (a paused step, its error in plain words, and
 * the step card's own menus and Retry — same action_ids and block_ids, so the card's
 * handlers serve them), recent runs, provider health and schedules. Pure.
 */

export interface AttentionItem {
  run: RunView;
  step: StepView;
  /** "Retry with …" choices, best first (as on the failure alert). */
  alternatives: readonly ModelChoice[];
}

export interface HealthLine {
  /** ok: healthy or unknown; else degraded/down. */
  ok: boolean;
  /** From describeHealth: provider/model ids and fixed words only. */
  text: string;
}

/** Today's spend (UTC day) and the global daily cap, if any. */
export interface SpendLine {
  day: string;
  cost: CostTotal;
  capUsd?: number | undefined;
}

export interface HomeInput {
  attention: readonly AttentionItem[];
  /** Paused runs beyond those shown. */
  moreAttention: number;
  menus: MenuOptions;
  recent: readonly RunView[];
  health: readonly HealthLine[];
  schedules: readonly ScheduleFacts[];
  /** The answer to the last click made here (Home has no ephemeral messages). */
  notice?: string | undefined;
  spend?: SpendLine | undefined;
}

/** At most this many "Retry with …" buttons per paused step on Home. */
const HOME_ALTERNATIVES = 3;

function attentionBlocks(item: AttentionItem, menus: MenuOptions): Block[] {
  const { run, step } = item;
  const id = (part: string) => stepBlockId(step.id, step.version, part);
  if (step.status === 'awaiting_approval') {
    // The output stays in the run's channel: Home says where it is and offers the decision.
    const head = `:raised_hand: *${safeMrkdwn(excerpt(run.workflowName, 80))}* run #${run.number} — step ${step.position + 1}/${step.total} *${safeMrkdwn(excerpt(step.name, 80))}* waits for approval · started by ${starterMrkdwn(run.startedBy)}\nRead its output on the step's card in the run thread.`;
    return [section(id('home-head'), head), ...approvalBlocks(step)];
  }
  const err = step.lastError;
  const label = providerLabel(err?.provider ?? step.provider, menus.providers);
  const head = `:double_vertical_bar: *${safeMrkdwn(excerpt(run.workflowName, 80))}* run #${run.number} — step ${step.position + 1}/${step.total} *${safeMrkdwn(excerpt(step.name, 80))}* is paused · started by ${starterMrkdwn(run.startedBy)}`;
  const why = err
    ? `:warning: ${safeMrkdwn(describeError(err.kind, label, err.provider))}. ${safeMrkdwn(errorAdvice(err.kind, label, err.provider))}`
    : 'Paused. Resume it from the run, or Retry the step here.';
  const blocks: Block[] = [section(id('home-head'), `${head}\n${why}`)];
  const models = modelSelect(step, menus.providers);
  const personas = personaSelect(step, menus.personas);
  const elements: (types.StaticSelect | Button)[] = [];
  if (models.select) elements.push(models.select);
  elements.push(personas.select);
  elements.push(button({ actionId: ACTIONS.retry, text: 'Retry', value: step.id, style: 'primary' }));
  // The card's block id: the card's handlers check the step and its version from it.
  blocks.push(actions(id('menus'), elements));

  const retries: Button[] = [];
  for (const alt of item.alternatives) {
    if (retries.length >= HOME_ALTERNATIVES) break;
    const value = retryWithValue(step.id, alt.provider, alt.model);
    if (!value) continue;
    retries.push(
      button({
        actionId: alertRetryWithActionId(retries.length),
        text: `Retry with ${alt.provider}/${alt.model}`,
        value,
      }),
    );
  }
  if (retries.length > 0) blocks.push(actions(alertBlockId(step.id, step.version, 'home-retry'), retries));
  return blocks;
}

function runLine(r: RunView): string {
  const st = RUN_STATUS[r.status];
  const cost = r.usage ? ` · ${formatCost(r.usage.cost)}` : '';
  return `${st.emoji} *#${r.number}* ${inlineCode(r.workflowName)} — ${st.label} · ${r.stepsCompleted}/${r.stepsTotal} steps${cost} · ${starterMrkdwn(r.startedBy)} · ${slackDate(r.createdAt)}`;
}

function spendWords(spend: SpendLine): string {
  const cap = spend.capUsd !== undefined ? ` of the ${formatUsd(spend.capUsd)} daily cap` : '';
  return `:moneybag: Spent today (UTC ${spend.day}): ${formatCost(spend.cost)}${cap}`;
}

export function homeView(input: HomeInput): types.HomeView {
  const blocks: Block[] = [
    { type: 'header', block_id: 'home-title', text: plain('Switchboard', LIMITS.headerText) },
    context('home-about', [
      'Workflows run in threads, one card per step: start one with `/workflow run <name> [input]`. `/workflow help` lists every command.',
    ]),
  ];
  if (input.notice) blocks.push(section('home-notice', input.notice));

  blocks.push({
    type: 'header',
    block_id: 'attention-title',
    text: plain('Needs attention', LIMITS.headerText),
  });
  if (input.attention.length === 0) {
    blocks.push(section('attention-none', ':white_check_mark: No paused runs.'));
  } else {
    for (const item of input.attention) blocks.push(...attentionBlocks(item, input.menus));
    if (input.moreAttention > 0) {
      blocks.push(
        context('attention-more', [
          `…and ${input.moreAttention} more paused: \`/workflow status\` lists them.`,
        ]),
      );
    }
  }

  blocks.push({ type: 'divider', block_id: 'recent-divider' });
  blocks.push({ type: 'header', block_id: 'recent-title', text: plain('Recent runs', LIMITS.headerText) });
  if (input.spend) blocks.push(context('recent-spend', [spendWords(input.spend)]));
  blocks.push(
    ...(input.recent.length > 0
      ? packLines('recent', input.recent.map(runLine), 5)
      : [section('recent-none', 'No runs yet. Start one with `/workflow run <name>`.')]),
  );

  blocks.push({ type: 'divider', block_id: 'health-divider' });
  blocks.push({
    type: 'header',
    block_id: 'health-title',
    text: plain('Provider health', LIMITS.headerText),
  });
  blocks.push(
    ...(input.health.length > 0
      ? packLines(
          'health',
          input.health.map(
            (h) => `${h.ok ? ':large_green_circle:' : ':large_orange_circle:'} ${safeMrkdwn(h.text)}`,
          ),
          3,
        )
      : [section('health-none', 'No provider is configured: set an API key and restart.')]),
  );

  blocks.push({ type: 'divider', block_id: 'schedules-divider' });
  blocks.push({ type: 'header', block_id: 'schedules-title', text: plain('Schedules', LIMITS.headerText) });
  blocks.push(
    ...(input.schedules.length > 0
      ? packLines('schedules', input.schedules.map(scheduleLine), 5)
      : [
          section(
            'schedules-none',
            'No schedules. `/workflow schedule add <name> "<cron>" [tz]` runs a workflow on a schedule.',
          ),
        ]),
  );
  return { type: 'home', blocks: blocks.slice(0, LIMITS.blocksPerView) };
}
