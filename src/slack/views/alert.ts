import { formatUsd } from '../../core/cost.js';
import {
  ACTIONS,
  alertBlockId,
  alertRetryWithActionId,
  type ModelChoice,
  retryWithValue,
} from './action-ids.js';
import { actions, type Block, type Button, button, context, LIMITS, section } from './blocks.js';
import { describeError, errorAdvice, providerLabel } from './error-words.js';
import type { MessagePayload, ProviderMenu, RunView, StepView } from './model.js';
import { starterMrkdwn } from './status.js';
import { escapeMrkdwn, excerpt, mrkdwn, safeMrkdwn } from './text.js';

/** Said instead of a link on the alert of a run in a private conversation. */
export const PRIVATE_RUN_NOTE = 'The run is in a private conversation: its details stay there.';

/** At most this many "Retry with …" buttons: more is noise, and the card has the full menu. */
export const MAX_ALTERNATIVES = 5;

type RunRef = Pick<RunView, 'id' | 'number' | 'workflowName'>;

export interface FailureAlertInput {
  run: RunRef;
  /** The paused step; `lastError` says what went wrong. */
  step: StepView;
  /** chat.getPermalink of the run's parent message. */
  permalink?: string | null;
  /** Configured alternatives in order of preference; the first five become buttons. */
  alternatives: readonly ModelChoice[];
  /** For provider labels ("Anthropic"). */
  providers?: readonly ProviderMenu[];
  /** A budget pause of a run with its own cap: "Raise this run's cap to $X" (owners and admins). */
  raiseCapTo?: number | undefined;
  /**
   * The run is in a private channel or a DM: the alert says what failed and offers the
   * retries, but quotes nothing (no provider message, which may echo the prompt) and links
   * nowhere; the details stay in the run's thread, for the people there.
   */
  discreet?: boolean | undefined;
}

/** Team-channel notice that a step paused after a failure, with one-click retries elsewhere. */
export function failureAlert(input: FailureAlertInput): MessagePayload {
  const { run, step } = input;
  const id = (part: string) => alertBlockId(step.id, step.version, part);
  const err = step.lastError;
  const providerId = err?.provider ?? step.provider;
  const model = err?.model ?? step.model;
  const label = providerLabel(providerId, input.providers);
  const kind = err?.kind ?? 'unknown';
  const headline = describeError(kind, label, providerId);

  const blocks: Block[] = [
    section(id('head'), `:rotating_light: ${where(run, step)} is paused.`),
    section(
      id('error'),
      [
        `*${safeMrkdwn(headline)}*`,
        safeMrkdwn(errorAdvice(kind, label, providerId)),
        err?.message.trim() && !input.discreet ? `>${mrkdwn(excerpt(err.message, 300), 800)}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    ),
    context(id('facts'), [
      safeMrkdwn(
        `${providerId}/${model}${step.attempts > 0 ? ` · ${step.attempts} attempt${step.attempts === 1 ? '' : 's'}` : ''}`,
      ),
      input.discreet ? PRIVATE_RUN_NOTE : threadLink(input.permalink),
    ]),
  ];

  const retries: Button[] = [];
  const seen = new Set<string>();
  const budget = kind === 'over_run_budget' || kind === 'over_daily_budget' || kind === 'unpriced_model';
  // A raised cap keeps its place among the buttons.
  const room = MAX_ALTERNATIVES - (input.raiseCapTo === undefined ? 0 : 1);
  for (const alt of input.alternatives) {
    if (retries.length >= room) break;
    const value = retryWithValue(step.id, alt.provider, alt.model);
    if (!value || seen.has(value) || (alt.provider === providerId && alt.model === model)) continue;
    seen.add(value);
    retries.push(
      button({
        actionId: alertRetryWithActionId(retries.length),
        text: `Retry with ${alt.provider}/${alt.model}`,
        value,
        style: retries.length === 0 ? 'primary' : undefined,
      }),
    );
  }
  if (input.raiseCapTo !== undefined) {
    retries.push(
      button({
        actionId: ACTIONS.raiseBudget,
        text: `Raise this run's cap to ${formatUsd(input.raiseCapTo)}`,
        value: step.id,
        confirm: {
          title: 'Raise the cap and retry?',
          text: `Run #${run.number} may then spend up to ${formatUsd(input.raiseCapTo)}; the step is retried at once.`,
          confirm: 'Raise and retry',
          deny: 'Keep the cap',
        },
      }),
    );
  }
  if (retries.length > 0) blocks.push(actions(id('retry'), retries));
  else
    blocks.push(
      context(id('retry-none'), [
        budget
          ? 'No cheaper model is configured: wait for the daily cap to reset, or raise the cap in the workflow or BUDGET_DAILY_USD.'
          : 'No other provider is configured: fix this one, then Retry from the card.',
      ]),
    );

  return { text: mrkdwn(`${plainWhere(run, step)} paused: ${headline}`, LIMITS.fallbackText), blocks };
}

export interface RecoveredAlertInput {
  run: RunRef;
  /** The step after it completed: `answeredProvider`/`answeredModel` say who answered. */
  step: StepView;
  permalink?: string | null;
  /** The failure the alert reported, for the record. */
  failure?: { kind: string; provider: string; model: string } | null;
  /** Slack user id of whoever changed the step or pressed Retry; absent for automatic recovery. */
  recoveredBy?: string | null;
  /** What they switched to, if they switched. */
  switchedTo?: { provider?: string | null; model?: string | null; personaName?: string | null } | null;
  providers?: readonly ProviderMenu[];
}

/** Replaces the failure alert once the step has succeeded: says it recovered and how. */
export function recoveredAlert(input: RecoveredAlertInput): MessagePayload {
  const { run, step } = input;
  const id = (part: string) => alertBlockId(step.id, step.version, part);
  const how: string[] = [];
  const who = input.recoveredBy ? starterMrkdwn(input.recoveredBy) : undefined;
  const to = input.switchedTo;
  const switched = [
    to?.provider && to.model ? `\`${safeMrkdwn(`${to.provider}/${to.model}`)}\`` : '',
    to?.personaName ? `persona ${safeMrkdwn(excerpt(to.personaName, 75))}` : '',
  ].filter(Boolean);
  if (switched.length > 0)
    how.push(`${who ?? 'Someone'} switched the step to ${switched.join(' and ')} and retried.`);
  else if (who) how.push(`${who} retried it.`);
  else how.push('It recovered on its own.');
  if (step.answeredProvider && step.answeredModel) {
    how.push(`Answered by \`${safeMrkdwn(`${step.answeredProvider}/${step.answeredModel}`)}\`.`);
  }

  const blocks: Block[] = [
    section(id('head'), `:white_check_mark: ${where(run, step)} recovered.`),
    section(id('how'), how.join(' ')),
  ];
  const facts: string[] = [];
  if (input.failure) {
    const f = input.failure;
    facts.push(
      `Was: ${safeMrkdwn(describeError(f.kind, providerLabel(f.provider, input.providers), f.provider))} on ${safeMrkdwn(`${f.provider}/${f.model}`)}`,
    );
  }
  facts.push(threadLink(input.permalink));
  if (facts.some(Boolean)) blocks.push(context(id('facts'), facts));

  return { text: mrkdwn(`${plainWhere(run, step)} recovered`, LIMITS.fallbackText), blocks };
}

function where(run: RunRef, step: StepView): string {
  return `*${safeMrkdwn(excerpt(run.workflowName, 80))}* run #${run.number}, step ${step.position + 1}/${step.total} *${safeMrkdwn(excerpt(step.name, 80))}*`;
}

function plainWhere(run: RunRef, step: StepView): string {
  return `${excerpt(run.workflowName, 80)} run #${run.number}, step ${step.position + 1}/${step.total} ${excerpt(step.name, 80)}`;
}

/**
 * A link to the run thread. Only https URLs without characters that would end the link
 * early are accepted; `&` is escaped as Slack asks for links too.
 */
export function threadLink(permalink: string | null | undefined, label = 'Open the run thread'): string {
  if (!permalink || !/^https:\/\/[^\s<>|]+$/.test(permalink) || permalink.length > 1000) return '';
  return `<${escapeMrkdwn(permalink)}|${escapeMrkdwn(label)}>`;
}
