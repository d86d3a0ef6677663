import type { MenuOptions, RunView, StepView } from '../../../src/slack/views/model.js';

/** Small factories: each test states only what matters to it. */

export function aStep(overrides: Partial<StepView> = {}): StepView {
  return {
    id: 'cstep0000000000000000001',
    runId: 'crun00000000000000000001',
    position: 1,
    total: 3,
    name: 'Summarise',
    status: 'pending',
    version: 4,
    provider: 'openai',
    model: 'gpt-4o-mini',
    personaId: null,
    personaName: 'Reviewer',
    personaSource: 'workflow',
    workflowPersonaName: 'Reviewer',
    output: null,
    inputTokens: 0,
    outputTokens: 0,
    latencyMs: null,
    attempts: 0,
    lastError: null,
    fallbackNote: null,
    ...overrides,
  };
}

export function aPausedStep(overrides: Partial<StepView> = {}): StepView {
  return aStep({
    status: 'paused',
    provider: 'anthropic',
    model: 'claude-haiku-4-5',
    attempts: 3,
    lastError: {
      kind: 'quota',
      message: 'Your credit balance is too low to access the Anthropic API.',
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
    },
    ...overrides,
  });
}

export function aCompletedStep(overrides: Partial<StepView> = {}): StepView {
  return aStep({
    status: 'completed',
    output: 'Three bullet points:\n- one\n- two\n- three',
    answeredProvider: 'openai',
    answeredModel: 'gpt-4o-mini',
    inputTokens: 1234,
    outputTokens: 567,
    latencyMs: 2345,
    attempts: 1,
    ...overrides,
  });
}

export function aRun(overrides: Partial<RunView> = {}): RunView {
  return {
    id: 'crun00000000000000000001',
    number: 42,
    workflowName: 'release-notes',
    description: 'Drafts release notes from merged pull requests',
    status: 'running',
    input: 'v2.3.0 since v2.2.0',
    startedBy: 'U0123ABC',
    trigger: 'slash',
    stepsTotal: 3,
    stepsCompleted: 1,
    reason: null,
    createdAt: '2026-11-28T15:00:00.000Z',
    version: 2,
    ...overrides,
  };
}

export function someMenus(overrides: Partial<MenuOptions> = {}): MenuOptions {
  return {
    providers: [
      { id: 'openai', label: 'OpenAI', models: ['gpt-4o-mini', 'gpt-4o'] },
      {
        id: 'anthropic',
        label: 'Anthropic',
        models: ['claude-haiku-4-5', 'claude-sonnet-4-5'],
        health: 'billing problem',
      },
    ],
    personas: [
      { id: 'cpersona0000000000000001', name: 'Reviewer' },
      { id: 'cpersona0000000000000002', name: 'Release-notes writer' },
    ],
    ...overrides,
  };
}

/** A model's reply crafted to ping, spoof and overflow. */
export const HOSTILE =
  'Hey <!channel> and <!here|here> and <@U123> <#C1> <!subteam^S1|@team> — log in at <https://evil.example|bank> @here @channel @everyone\n```\nunclosed code\n' +
  'x'.repeat(10_000);

/** No Slack control sequence survives: nothing can ping, link or spoof. */
export const CONTROL_SEQUENCE = /<[!@#]|<https?:|<mailto:/;
export const BARE_BROADCAST = /@(channel|here|everyone)\b/i;
