import { formatCost } from '../../core/cost.js';
import { PAUSE_WORDS, toPauseKind } from '../../core/error-kinds.js';
import { ACTIONS, DEFAULT_PERSONA_VALUE, isId, modelValue, stepBlockId } from './action-ids.js';
import { approvalBlocks } from './approval.js';
import {
  actions,
  type Block,
  type Button,
  button,
  context,
  LIMITS,
  option,
  type PlainTextOption,
  plain,
  type StaticSelect,
  section,
} from './blocks.js';
import { describeError, errorAdvice, providerLabel } from './error-words.js';
import type { MenuOptions, MessagePayload, PersonaMenu, ProviderMenu, StepView } from './model.js';
import { isStepEditable, STEP_STATUS } from './status.js';
import {
  balanceFences,
  excerpt,
  fitMrkdwn,
  formatCount,
  formatDuration,
  mrkdwn,
  safeMrkdwn,
} from './text.js';

export { describeError, errorAdvice, providerLabel } from './error-words.js';

/**
 * One step of a run, as a threaded card. The provider/model and persona menus exist only
 * while the step is pending or paused (docs/architecture.md, "States"): Block Kit has no disabled flag,
 * so otherwise the same facts are read-only context text.
 */
export function stepCard(step: StepView, menus: MenuOptions): MessagePayload {
  const id = (part: string) => stepBlockId(step.id, step.version, part);
  const status = STEP_STATUS[step.status];
  const title = `Step ${step.position + 1}/${step.total} · ${excerpt(step.name, 100)}`;
  const blocks: Block[] = [section(id('head'), `${status.emoji} *${safeMrkdwn(title)}* — ${status.label}`)];

  let headline: string | undefined;
  if (step.status === 'paused') {
    const { block, text } = pausedExplanation(step, menus.providers, id('error'));
    blocks.push(block);
    headline = text;
  }

  if (isStepEditable(step.status)) {
    const models = modelSelect(step, menus.providers);
    const personas = personaSelect(step, menus.personas);
    const elements: (StaticSelect | Button)[] = [];
    if (models.select) elements.push(models.select);
    elements.push(personas.select);
    if (step.status === 'paused') {
      elements.push(button({ actionId: ACTIONS.retry, text: 'Retry', value: step.id, style: 'primary' }));
    }
    blocks.push(actions(id('menus'), elements));
    const notes = [...models.notes, ...personas.notes];
    if (notes.length > 0) blocks.push(context(id('menus-note'), notes));
  } else {
    blocks.push(context(id('facts'), [factsLine(step)]));
  }

  if (step.output) {
    const out = fitMrkdwn(step.output, LIMITS.sectionText);
    blocks.push(section(id('output'), out.text));
    if (out.truncated) {
      blocks.push(
        actions(id('output-more'), [
          button({ actionId: ACTIONS.viewOutput, text: 'View full output', value: step.id }),
        ]),
      );
    }
  }

  if (step.status === 'running' && step.live) {
    // The end of the text so far: the newest words are what people watch for.
    blocks.push(section(id('live'), liveTail(step.live, LIMITS.sectionText)));
    blocks.push(
      context(id('live-note'), [':writing_hand: Writing… the full output replaces this when the step ends.']),
    );
  }

  if (step.status === 'awaiting_approval') blocks.push(...approvalBlocks(step));

  const stats = statsLines(step);
  if (stats.length > 0) blocks.push(context(id('stats'), stats));

  // Only a finished run's cards; never one whose earlier output is missing (docs/control.md).
  if (step.rerunnable) {
    blocks.push(
      actions(id('rerun'), [button({ actionId: ACTIONS.rerun, text: 'Re-run from here…', value: step.id })]),
    );
  }

  const fallback = `${title} — ${status.label}${headline ? `: ${headline}` : ''}`;
  return { text: mrkdwn(fallback, LIMITS.fallbackText), blocks };
}

/**
 * The end of a running step's text as inert mrkdwn within `limit`: escaping lengthens text,
 * so the cut is made from the front until the escaped tail fits (the newest words stay).
 */
export function liveTail(untrusted: string, limit: number): string {
  const room = limit - 8; // "…" and a closing fence
  let tail = untrusted.length > room ? untrusted.slice(untrusted.length - room) : untrusted;
  let safe = safeMrkdwn(tail);
  while (safe.length > room) {
    tail = tail.slice(Math.max(1, safe.length - room));
    safe = safeMrkdwn(tail);
  }
  return balanceFences(tail.length < untrusted.length ? `…${safe}` : safe);
}

/** `openai · gpt-4o-mini · persona: Reviewer` (mrkdwn, escaped). */
export function factsLine(step: Pick<StepView, 'provider' | 'model' | 'personaName'>): string {
  return safeMrkdwn(`${step.provider} · ${step.model} · persona: ${excerpt(step.personaName ?? 'none', 75)}`);
}

function pausedExplanation(
  step: StepView,
  providers: readonly ProviderMenu[],
  blockId: string,
): { block: Block; text: string | undefined } {
  const err = step.lastError;
  const pause = toPauseKind(err?.kind);
  if (err && pause) {
    const words = PAUSE_WORDS[pause];
    const lines = [`:warning: *${safeMrkdwn(words.headline)}*`];
    if (err.message.trim()) lines.push(`>${mrkdwn(excerpt(err.message, 500), 1200)}`);
    lines.push(safeMrkdwn(words.advice));
    return { block: section(blockId, lines.join('\n')), text: words.headline };
  }
  if (!err) {
    return {
      block: section(
        blockId,
        ':double_vertical_bar: Paused. Change the provider/model or persona if needed, then *Retry*.',
      ),
      text: undefined,
    };
  }
  const label = providerLabel(err.provider, providers);
  const text = describeError(err.kind, label, err.provider);
  const lines = [
    `:warning: *${safeMrkdwn(text)}*`,
    safeMrkdwn(errorAdvice(err.kind, label, err.provider)),
    `Failed on \`${safeMrkdwn(`${err.provider}/${err.model}`)}\`${
      step.attempts > 0 ? ` after ${step.attempts} attempt${step.attempts === 1 ? '' : 's'}` : ''
    }. Switch provider/model or persona below, then *Retry*.`,
  ];
  if (err.message.trim()) lines.push(`>${mrkdwn(excerpt(err.message, 500), 1200)}`);
  return { block: section(blockId, lines.join('\n')), text };
}

function statsLines(step: StepView): string[] {
  const parts: string[] = [];
  if (step.reusedFrom != null) parts.push(`reused from run #${step.reusedFrom} · no provider call`);
  if (step.inputTokens > 0 || step.outputTokens > 0) {
    parts.push(`${formatCount(step.inputTokens)} in / ${formatCount(step.outputTokens)} out tokens`);
  }
  if (step.cost) parts.push(formatCost(step.cost));
  if (step.latencyMs != null) parts.push(formatDuration(step.latencyMs));
  if (step.attempts > 0) parts.push(`${step.attempts} attempt${step.attempts === 1 ? '' : 's'}`);
  if (step.answeredProvider && step.answeredModel) {
    parts.push(`answered by ${step.answeredProvider}/${step.answeredModel}`);
  }
  const lines = parts.length > 0 ? [safeMrkdwn(parts.join(' · '))] : [];
  if (step.finishReason === 'length') lines.push('The model stopped at its output token limit.');
  if (step.fallbackNote)
    lines.push(`:twisted_rightwards_arrows: ${mrkdwn(excerpt(step.fallbackNote, 300), 1000)}`);
  return lines;
}

// ── menus ────────────────────────────────────────────────────────────────────

interface Menu<T> {
  select: T;
  /** Context lines (safe mrkdwn) explaining what the menu does not show. */
  notes: string[];
}

/**
 * Provider/model menu: one option group per configured provider, values
 * `${provider}/${model}`. The current choice is the initial option; if its model is not in
 * the provider's list (a model named in a workflow file) it is added so the menu never lies.
 * Slack allows 100 options per select, so the current choice is kept and the rest cut.
 */
export function modelSelect(
  step: StepView,
  providers: readonly ProviderMenu[],
): { select?: StaticSelect; notes: string[] } {
  const notes: string[] = [];
  const currentValue = modelValue(step.provider, step.model);
  const currentProvider = providers.find((p) => p.id === step.provider);
  let budget = LIMITS.optionsPerSelect - (currentProvider && currentValue ? 1 : 0);
  let initial: PlainTextOption | undefined;
  let dropped = 0;

  const groups: NonNullable<StaticSelect['option_groups']> = [];
  for (const provider of providers) {
    const seen = new Set<string>();
    const options: PlainTextOption[] = [];
    if (provider === currentProvider && currentValue) {
      initial = option(step.model, currentValue);
      options.push(initial);
      seen.add(currentValue);
    }
    for (const model of provider.models) {
      const value = modelValue(provider.id, model);
      if (!value || seen.has(value)) continue;
      seen.add(value);
      if (budget <= 0) {
        dropped++;
        continue;
      }
      options.push(option(model, value));
      budget--;
    }
    if (options.length === 0) continue;
    const health = provider.health ? ` — ${provider.health}` : '';
    groups.push({ label: plain(`${provider.label}${health}`, LIMITS.optionText), options });
  }

  if (groups.length === 0) {
    notes.push('No provider is configured, so there is nothing to switch to: set an API key and restart.');
    return { notes };
  }
  if (!currentProvider) {
    notes.push(
      `Current model \`${safeMrkdwn(`${step.provider}/${step.model}`)}\` is not available here (its provider is not configured): pick another.`,
    );
  }
  if (dropped > 0)
    notes.push(`The model menu shows ${LIMITS.optionsPerSelect} models; ${dropped} more are not listed.`);

  const select: StaticSelect = {
    type: 'static_select',
    action_id: ACTIONS.selectModel,
    placeholder: plain('Provider / model', LIMITS.optionText),
    option_groups: groups,
  };
  if (initial) select.initial_option = initial;
  return { select, notes };
}

/**
 * Persona menu: "Workflow default (X)" (clears the override) then every persona. The
 * override, if any, is the initial option; otherwise the default is.
 */
export function personaSelect(step: StepView, personas: readonly PersonaMenu[]): Menu<StaticSelect> {
  const notes: string[] = [];
  const defaultName = step.workflowPersonaName ? excerpt(step.workflowPersonaName, 50) : 'none';
  const defaultOption = option(`Workflow default (${defaultName})`, DEFAULT_PERSONA_VALUE);

  const unique = [...new Map(personas.filter((p) => isId(p.id)).map((p) => [p.id, p])).values()];
  const room = LIMITS.optionsPerSelect - 1;
  let shown = unique.slice(0, room);
  const override = step.personaSource === 'override' ? step.personaId : undefined;
  if (override && !shown.some((p) => p.id === override)) {
    const current = unique.find((p) => p.id === override);
    if (current) shown = [...shown.slice(0, room - 1), current];
    else
      notes.push(
        `Current persona ${safeMrkdwn(excerpt(step.personaName ?? override, 75))} is no longer available.`,
      );
  }
  if (unique.length > shown.length) {
    notes.push(`The persona menu shows ${shown.length} of ${unique.length} personas.`);
  }

  const options = [defaultOption, ...shown.map((p) => option(excerpt(p.name, LIMITS.optionText), p.id))];
  const initial = (override && options.find((o) => o.value === override)) || defaultOption;
  return {
    select: {
      type: 'static_select',
      action_id: ACTIONS.selectPersona,
      placeholder: plain('Persona', LIMITS.optionText),
      options,
      initial_option: initial,
    },
    notes,
  };
}
