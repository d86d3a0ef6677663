import { describe, expect, it } from 'vitest';
import { ACTIONS, DEFAULT_PERSONA_VALUE, parseStepBlockId } from '../../../src/slack/views/action-ids.js';
import type { StaticSelect } from '../../../src/slack/views/blocks.js';
import type { StepStatus } from '../../../src/slack/views/model.js';
import { describeError, stepCard } from '../../../src/slack/views/step-card.js';
import { expectValidMessage, findByType, visibleText } from '../../support/block-kit.js';
import {
  aCompletedStep,
  aPausedStep,
  aStep,
  BARE_BROADCAST,
  CONTROL_SEQUENCE,
  HOSTILE,
  someMenus,
} from './factories.js';

function selects(card: unknown) {
  return findByType(card, 'static_select') as unknown as StaticSelect[];
}
function modelMenu(card: unknown) {
  return selects(card).find((s) => s.action_id === ACTIONS.selectModel);
}
function personaMenu(card: unknown) {
  return selects(card).find((s) => s.action_id === ACTIONS.selectPersona);
}
function buttons(card: unknown) {
  return findByType(card, 'button') as {
    action_id: string;
    value: string;
    text: { text: string };
    style?: string;
  }[];
}

describe('step card', () => {
  it('a pending step offers the provider/model and persona menus with the current choices selected', () => {
    const card = stepCard(aStep(), someMenus());
    expectValidMessage(card);

    const models = modelMenu(card)!;
    expect(models.initial_option?.value).toBe('openai/gpt-4o-mini');
    expect(models.option_groups?.map((g) => g.label.text)).toEqual(['OpenAI', 'Anthropic — billing problem']);
    expect(models.option_groups?.[0]?.options.map((o) => o.value)).toEqual([
      'openai/gpt-4o-mini',
      'openai/gpt-4o',
    ]);

    const personas = personaMenu(card)!;
    expect(personas.options?.map((o) => o.text.text)).toEqual([
      'Workflow default (Reviewer)',
      'Reviewer',
      'Release-notes writer',
    ]);
    expect(personas.initial_option?.value).toBe(DEFAULT_PERSONA_VALUE);
    expect(buttons(card).some((b) => b.action_id === ACTIONS.retry)).toBe(false);
  });

  it('shows the header "Step n/N · name" with the status', () => {
    const text = visibleText(stepCard(aStep({ position: 1, total: 3, name: 'Summarise' }), someMenus()));
    expect(text).toContain('Step 2/3 · Summarise');
    expect(text).toContain('Pending');
  });

  it('preselects a persona override, and "Workflow default (none)" when the workflow has none', () => {
    const overridden = stepCard(
      aStep({
        personaSource: 'override',
        personaId: 'cpersona0000000000000002',
        personaName: 'Release-notes writer',
      }),
      someMenus(),
    );
    expect(personaMenu(overridden)!.initial_option?.text.text).toBe('Release-notes writer');

    const none = stepCard(
      aStep({ workflowPersonaName: null, personaName: null, personaSource: 'none' }),
      someMenus(),
    );
    expect(personaMenu(none)!.initial_option).toEqual({
      text: { type: 'plain_text', text: 'Workflow default (none)', emoji: true },
      value: DEFAULT_PERSONA_VALUE,
    });
  });

  it('a paused step explains the failure in plain words and offers the menus plus a primary Retry', () => {
    const card = stepCard(aPausedStep(), someMenus());
    expectValidMessage(card);
    const text = visibleText(card);
    expect(text).toContain('Anthropic: credit balance too low — billing');
    expect(text).toContain('Your credit balance is too low');
    expect(text).toContain('after 3 attempts');
    expect(card.text).toContain('Paused: Anthropic: credit balance too low — billing');

    expect(modelMenu(card)!.initial_option?.value).toBe('anthropic/claude-haiku-4-5');
    expect(personaMenu(card)).toBeDefined();
    const retry = buttons(card).find((b) => b.action_id === ACTIONS.retry)!;
    expect(retry).toMatchObject({ value: aPausedStep().id, style: 'primary', text: { text: 'Retry' } });
  });

  it.each<StepStatus>(['running', 'completed', 'skipped', 'cancelled', 'failed'])(
    'a %s step has no menus at all, only the read-only facts',
    (status) => {
      const card = stepCard(aCompletedStep({ status, personaName: 'Reviewer' }), someMenus());
      expectValidMessage(card);
      expect(JSON.stringify(card)).not.toContain('static_select');
      expect(buttons(card).some((b) => b.action_id === ACTIONS.retry)).toBe(false);
      expect(visibleText(card)).toContain('openai · gpt-4o-mini · persona: Reviewer');
    },
  );

  it('a running step shows its live text (card mode of live output), neutralised, newest words kept', () => {
    const long = `${'early words '.repeat(400)}Hey <!channel> <@U123> @here latest words`;
    const card = stepCard(aStep({ status: 'running', live: long }), someMenus());
    expectValidMessage(card);
    const text = visibleText(card);
    expect(text).toContain('latest words');
    expect(text).toContain('Writing… the full output replaces this when the step ends.');
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<@U123>');
    expect(text).toContain('&lt;!channel&gt;');
    // Only while it runs: a finished card shows its output, never live text.
    const done = stepCard(aCompletedStep({ live: 'stale live text' }), someMenus());
    expect(visibleText(done)).not.toContain('stale live text');
  });

  it('a completed step shows its output, tokens, latency, attempts and who answered', () => {
    const card = stepCard(
      aCompletedStep({
        fallbackNote: 'anthropic/claude-haiku-4-5 rate limited → answered by openai/gpt-4o-mini',
      }),
      someMenus(),
    );
    const text = visibleText(card);
    expect(text).toContain('- three');
    expect(text).toContain('1,234 in / 567 out tokens · 2.3 s · 1 attempt · answered by openai/gpt-4o-mini');
    expect(text).toContain('anthropic/claude-haiku-4-5 rate limited → answered by openai/gpt-4o-mini');
    expect(buttons(card).some((b) => b.action_id === ACTIONS.viewOutput)).toBe(false);
  });

  it('says when the model stopped at its token limit', () => {
    expect(visibleText(stepCard(aCompletedStep({ finishReason: 'length' }), someMenus()))).toContain(
      'stopped at its output token limit',
    );
  });

  it('offers only the providers passed in', () => {
    const menus = someMenus({ providers: [{ id: 'openai', label: 'OpenAI', models: ['gpt-4o-mini'] }] });
    const card = stepCard(aPausedStep(), menus);
    expectValidMessage(card);
    const models = modelMenu(card)!;
    expect(models.option_groups?.map((g) => g.label.text)).toEqual(['OpenAI']);
    expect(JSON.stringify(models)).not.toContain('anthropic');
    // The failed provider is not configured here: no initial option, and the card says why.
    expect(models.initial_option).toBeUndefined();
    expect(visibleText(card)).toContain('is not available here');
  });

  it('keeps a current model that is not in the catalogue as the selected option', () => {
    const card = stepCard(aStep({ model: 'gpt-4.1-custom' }), someMenus());
    expectValidMessage(card);
    const models = modelMenu(card)!;
    expect(models.initial_option?.value).toBe('openai/gpt-4.1-custom');
    expect(models.option_groups?.[0]?.options[0]).toEqual(models.initial_option);
  });

  it('without any configured provider there is no model menu but still a persona menu', () => {
    const card = stepCard(aPausedStep(), someMenus({ providers: [] }));
    expectValidMessage(card);
    expect(modelMenu(card)).toBeUndefined();
    expect(personaMenu(card)).toBeDefined();
    expect(visibleText(card)).toContain('No provider is configured');
  });

  it('caps 150 personas at 100 options, says so, and keeps an override that falls beyond the cut', () => {
    const personas = Array.from({ length: 150 }, (_, i) => ({
      id: `cpersona${String(i).padStart(16, '0')}`,
      name: `Persona ${i}`,
    }));
    const override = personas[140]!;
    const card = stepCard(
      aStep({ personaSource: 'override', personaId: override.id, personaName: override.name }),
      someMenus({ personas }),
    );
    expectValidMessage(card);
    const menu = personaMenu(card)!;
    expect(menu.options!.length).toBeLessThanOrEqual(100);
    expect(menu.initial_option?.value).toBe(override.id);
    expect(visibleText(card)).toContain('shows 99 of 150 personas');
  });

  it('cuts long model names to 75 characters but keeps the full value', () => {
    const long = `ft:gpt-4o-mini-2024-07-18:acme-corp:${'very-long-fine-tune-name-'.repeat(3)}:abc123`;
    const card = stepCard(
      aStep({ model: long }),
      someMenus({ providers: [{ id: 'openai', label: 'OpenAI', models: ['gpt-4o-mini', long] }] }),
    );
    expectValidMessage(card);
    const option = modelMenu(card)!.initial_option!;
    expect(long.length).toBeGreaterThan(75);
    expect(option.text.text.length).toBeLessThanOrEqual(75);
    expect(option.text.text.endsWith('…')).toBe(true);
    expect(option.value).toBe(`openai/${long}`);
  });

  it('caps the model menu at 100 options across providers, keeping the current choice', () => {
    const models = Array.from({ length: 80 }, (_, i) => `model-${i}`);
    const card = stepCard(
      aStep({ provider: 'anthropic', model: 'model-79' }),
      someMenus({
        providers: [
          { id: 'openai', label: 'OpenAI', models },
          { id: 'anthropic', label: 'Anthropic', models },
        ],
      }),
    );
    expectValidMessage(card);
    const menu = modelMenu(card)!;
    const count = menu.option_groups!.reduce((n, g) => n + g.options.length, 0);
    expect(count).toBe(100);
    expect(menu.initial_option?.value).toBe('anthropic/model-79');
    expect(visibleText(card)).toMatch(/60 more are not listed/);
  });

  it('renders hostile model output inertly, truncated, with a View full output button', () => {
    const step = aCompletedStep({ output: HOSTILE, name: 'Write <!channel> @here' });
    const card = stepCard(step, someMenus());
    expectValidMessage(card);
    const json = JSON.stringify(card);
    expect(json).not.toMatch(CONTROL_SEQUENCE);
    expect(visibleText(card)).not.toMatch(BARE_BROADCAST);
    expect(visibleText(card)).toContain('&lt;!channel&gt;');
    expect(visibleText(card)).toContain('&lt;https://evil.example|bank&gt;');

    const output = card.blocks.find((b) => b.block_id?.endsWith(':output'));
    const outText = output?.type === 'section' ? (output.text?.text ?? '') : '';
    expect(outText.length).toBeLessThanOrEqual(3000);
    expect(outText).toContain('…');
    expect(outText.split('```').length % 2).toBe(1); // fences balanced
    const more = buttons(card).find((b) => b.action_id === ACTIONS.viewOutput);
    expect(more).toMatchObject({ value: step.id, text: { text: 'View full output' } });
  });

  it('escapes hostile provider error messages on a paused card', () => {
    const card = stepCard(
      aPausedStep({
        lastError: {
          kind: 'invalid_request',
          message: '<!channel> <@U1> bad',
          provider: 'openai',
          model: 'x',
        },
      }),
      someMenus(),
    );
    expectValidMessage(card);
    expect(JSON.stringify(card)).not.toMatch(CONTROL_SEQUENCE);
    expect(visibleText(card)).toContain('OpenAI: request rejected');
  });

  it('embeds the step id and version in unique block_ids, and action_ids are unique in the card', () => {
    for (const step of [aStep(), aPausedStep(), aCompletedStep({ output: HOSTILE })]) {
      const card = stepCard(step, someMenus());
      const ids = card.blocks.map((b) => b.block_id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids)
        expect(parseStepBlockId(id)).toMatchObject({ stepId: step.id, version: step.version });
      const actionIds = [...JSON.stringify(card).matchAll(/"action_id":"([^"]+)"/g)].map((m) => m[1]);
      expect(new Set(actionIds).size).toBe(actionIds.length);
    }
  });
});

describe('describeError', () => {
  it.each([
    ['quota', 'Anthropic', 'anthropic', 'Anthropic: credit balance too low — billing'],
    ['rate_limit', 'OpenAI', 'openai', 'OpenAI: rate limited'],
    ['overloaded', 'Google Gemini', 'google', 'Google Gemini: overloaded'],
    ['auth', 'Anthropic', 'anthropic', 'Anthropic: API key rejected — check ANTHROPIC_API_KEY'],
    ['auth', 'OpenAI', undefined, 'OpenAI: API key rejected — check OPENAI_API_KEY'],
    ['timeout', 'OpenAI', 'openai', 'OpenAI: timed out'],
    ['network', 'OpenAI', 'openai', 'OpenAI: network unreachable'],
    ['context_length', 'OpenAI', 'openai', 'OpenAI: prompt too long for the model'],
    ['content_filter', 'OpenAI', 'openai', 'OpenAI: blocked by content filter'],
    ['server', 'OpenAI', 'openai', 'OpenAI: server error'],
    ['invalid_request', 'OpenAI', 'openai', 'OpenAI: request rejected'],
    ['something-new', 'OpenAI', 'openai', 'OpenAI: failed with an unexpected error'],
  ])('%s on %s reads "%s"', (kind, label, id, expected) => {
    expect(describeError(kind, label, id)).toBe(expected);
  });
});
