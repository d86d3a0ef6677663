import { describe, expect, it } from 'vitest';
import { ALERT_RETRY_WITH_PATTERN, parseRetryWithValue } from '../../../src/slack/views/action-ids.js';
import { failureAlert, recoveredAlert, threadLink } from '../../../src/slack/views/alert.js';
import { expectValidMessage, findByType, visibleText } from '../../support/block-kit.js';
import { aCompletedStep, aPausedStep, aRun, CONTROL_SEQUENCE } from './factories.js';

const PERMALINK =
  'https://acme.slack.com/archives/C123/p1700000000000100?thread_ts=1700000000.000100&cid=C123';

describe('failure alert', () => {
  const alert = failureAlert({
    run: aRun(),
    step: aPausedStep(),
    permalink: PERMALINK,
    alternatives: [
      { provider: 'anthropic', model: 'claude-haiku-4-5' }, // the one that failed: not offered
      { provider: 'openai', model: 'gpt-4o-mini' },
      { provider: 'openai', model: 'gpt-4o-mini' }, // duplicate
      { provider: 'google', model: 'gemini-2.5-flash' },
      { provider: 'openai', model: 'gpt-4o' },
      { provider: 'anthropic', model: 'claude-sonnet-4-5' },
      { provider: 'google', model: 'gemini-2.5-pro' },
      { provider: 'openai', model: 'gpt-4.1' },
    ],
  });

  it('says which workflow, step and provider failed, in plain words, with what to do', () => {
    expectValidMessage(alert);
    const text = visibleText(alert);
    expect(text).toContain('*release-notes* run #42, step 2/3 *Summarise* is paused');
    expect(text).toContain('Anthropic: credit balance too low — billing');
    expect(text).toContain('Add credit');
    expect(text).toContain('anthropic/claude-haiku-4-5 · 3 attempts');
    expect(alert.text).toContain('paused: Anthropic: credit balance too low — billing');
  });

  it('links to the run thread', () => {
    expect(visibleText(alert)).toContain(
      '<https://acme.slack.com/archives/C123/p1700000000000100?thread_ts=1700000000.000100&amp;cid=C123|Open the run thread>',
    );
  });

  it('offers up to five one-click retries on other providers, in order, the first primary', () => {
    const buttons = findByType(alert, 'button');
    expect(buttons.map((b) => (b.text as { text: string }).text)).toEqual([
      'Retry with openai/gpt-4o-mini',
      'Retry with google/gemini-2.5-flash',
      'Retry with openai/gpt-4o',
      'Retry with anthropic/claude-sonnet-4-5',
      'Retry with google/gemini-2.5-pro',
    ]);
    expect(buttons[0]?.style).toBe('primary');
    for (const b of buttons) expect(ALERT_RETRY_WITH_PATTERN.test(String(b.action_id))).toBe(true);
    expect(parseRetryWithValue(buttons[1]?.value)).toEqual({
      stepId: aPausedStep().id,
      provider: 'google',
      model: 'gemini-2.5-flash',
    });
  });

  it('without alternatives says so instead of showing buttons', () => {
    const lonely = failureAlert({ run: aRun(), step: aPausedStep(), alternatives: [] });
    expectValidMessage(lonely);
    expect(findByType(lonely, 'button')).toEqual([]);
    expect(visibleText(lonely)).toContain('No other provider is configured');
  });

  it('drops a permalink that is not a plain https URL, and escapes a hostile provider message', () => {
    expect(threadLink('javascript:alert(1)')).toBe('');
    expect(threadLink('https://x.example/a|<!channel>')).toBe('');
    const hostile = failureAlert({
      run: aRun({ workflowName: '<!here>' }),
      step: aPausedStep({
        name: '<@U1>',
        lastError: {
          kind: 'auth',
          message: 'key <!channel> sk-… rejected',
          provider: 'openai',
          model: 'gpt-4o',
        },
      }),
      permalink: 'https://evil.example/|<!channel>',
      alternatives: [],
    });
    expectValidMessage(hostile);
    expect(JSON.stringify(hostile)).not.toMatch(CONTROL_SEQUENCE);
    expect(visibleText(hostile)).toContain('OpenAI: API key rejected — check OPENAI_API_KEY');
  });
});

describe('recovered alert', () => {
  it('says who switched to what and who answered', () => {
    const msg = recoveredAlert({
      run: aRun(),
      step: aCompletedStep(),
      permalink: PERMALINK,
      failure: { kind: 'quota', provider: 'anthropic', model: 'claude-haiku-4-5' },
      recoveredBy: 'U0456DEF',
      switchedTo: { provider: 'openai', model: 'gpt-4o-mini', personaName: 'Reviewer' },
    });
    expectValidMessage(msg);
    const text = visibleText(msg);
    expect(text).toContain('step 2/3 *Summarise* recovered');
    expect(text).toContain(
      '<@U0456DEF> switched the step to `openai/gpt-4o-mini` and persona Reviewer and retried.',
    );
    expect(text).toContain('Answered by `openai/gpt-4o-mini`');
    expect(text).toContain('Was: Anthropic: credit balance too low — billing on anthropic/claude-haiku-4-5');
    expect(findByType(msg, 'button')).toEqual([]);
  });

  it('covers a plain retry and an automatic recovery', () => {
    const retried = recoveredAlert({ run: aRun(), step: aCompletedStep(), recoveredBy: 'U0456DEF' });
    expectValidMessage(retried);
    expect(visibleText(retried)).toContain('<@U0456DEF> retried it.');
    const auto = recoveredAlert({ run: aRun(), step: aCompletedStep({ answeredProvider: null }) });
    expectValidMessage(auto);
    expect(visibleText(auto)).toContain('It recovered on its own.');
  });
});
