import { describe, expect, it } from 'vitest';
import {
  errorMessage,
  helpMessage,
  unknownCommandMessage,
  unknownRunMessage,
  unknownWorkflowMessage,
  usageErrorMessage,
} from '../../../src/slack/views/help.js';
import {
  healthMessage,
  recentRunsMessage,
  runStatusMessage,
  workflowListMessage,
} from '../../../src/slack/views/list.js';
import { expectValidMessage, visibleText } from '../../support/block-kit.js';
import { aCompletedStep, aPausedStep, aRun, aStep, CONTROL_SEQUENCE } from './factories.js';

describe('/workflow help and errors', () => {
  it('help lists every subcommand', () => {
    const msg = helpMessage();
    expectValidMessage(msg);
    for (const cmd of [
      'run <name> [input]',
      'list',
      'status [run]',
      'cancel <run>',
      'health',
      'schedule add <name> "<cron>" [tz] [input]',
      'edit <name>',
      'export <name>',
      'persona list|add|edit <name>',
      'help',
    ]) {
      expect(visibleText(msg)).toContain(`/workflow ${cmd}`);
    }
  });

  it('an unknown workflow suggests the closest name', () => {
    const msg = unknownWorkflowMessage('relase-notes', ['release-notes', 'weekly-digest']);
    expectValidMessage(msg);
    expect(msg.text).toBe(':warning: No workflow named `relase-notes`. Did you mean `release-notes`?');
  });

  it('an unknown workflow with nothing close points to the list', () => {
    const msg = unknownWorkflowMessage('deploy', ['release-notes']);
    expectValidMessage(msg);
    expect(visibleText(msg)).toContain('See `/workflow list`');
  });

  it('lists several suggestions naturally', () => {
    const msg = errorMessage('Nope.', { suggestions: ['a', 'b', 'c'] });
    expect(msg.text).toContain('Did you mean `a`, `b` or `c`?');
  });

  it('a mistyped subcommand suggests the right one', () => {
    expect(unknownCommandMessage('sattus').text).toContain('Did you mean `status`?');
  });

  it('echoes hostile input inertly', () => {
    for (const msg of [
      unknownWorkflowMessage('<!channel>`x', []),
      unknownRunMessage('<@U1>'),
      usageErrorMessage('run', '<!here> missing'),
    ]) {
      expectValidMessage(msg);
      expect(JSON.stringify(msg)).not.toMatch(CONTROL_SEQUENCE);
    }
  });

  it('a usage error shows the usage line', () => {
    expect(visibleText(usageErrorMessage('cancel', 'Which run?'))).toContain(
      'Usage: `/workflow cancel <run>`',
    );
  });
});

describe('/workflow list, status and health', () => {
  it('lists workflows with their descriptions', () => {
    const msg = workflowListMessage([
      { name: 'release-notes', description: 'Drafts release notes', steps: 3 },
      { name: 'weekly-digest', description: null, steps: 1 },
    ]);
    expectValidMessage(msg);
    const text = visibleText(msg);
    expect(text).toContain('• `release-notes` — Drafts release notes (3 steps)');
    expect(text).toContain('• `weekly-digest` (1 step)');
  });

  it('keeps a huge list within Slack’s limits and says how many are left out', () => {
    const many = Array.from({ length: 500 }, (_, i) => ({
      name: `workflow-${i}`,
      description: 'd'.repeat(150),
    }));
    const msg = workflowListMessage(many);
    expectValidMessage(msg);
    expect(visibleText(msg)).toMatch(/…and \d+ more/);
  });

  it('says when there are no workflows or runs', () => {
    expectValidMessage(workflowListMessage([]));
    expect(visibleText(recentRunsMessage([]))).toContain('No runs yet');
  });

  it('summarises a run with one line per step, including why a step paused', () => {
    const msg = runStatusMessage(
      aRun({ status: 'paused' }),
      [
        aPausedStep({ position: 1 }),
        aCompletedStep({ position: 0, name: 'Collect' }),
        aStep({ position: 2, name: 'Publish' }),
      ],
      { permalink: 'https://acme.slack.com/archives/C1/p1' },
    );
    expectValidMessage(msg);
    const text = visibleText(msg);
    expect(text).toMatch(
      /1\. \*Collect\* — Completed[\s\S]*2\. \*Summarise\* — Paused[\s\S]*3\. \*Publish\* — Pending/,
    );
    expect(text).toContain('Anthropic: credit balance too low — billing');
    expect(text).toContain('|Open the run thread>');
  });

  it('lists recent runs', () => {
    const msg = recentRunsMessage([
      aRun(),
      aRun({ id: 'crun2', number: 41, status: 'completed', stepsCompleted: 3 }),
    ]);
    expectValidMessage(msg);
    expect(visibleText(msg)).toContain('*#41* `release-notes` — Completed · 3/3 steps');
  });

  it('reports provider health', () => {
    const msg = healthMessage([
      {
        label: 'OpenAI',
        configured: true,
        models: 2,
        figures: '✓ openai — 6 of last 6 succeeded · median 1.2 s',
      },
      {
        label: 'Anthropic',
        configured: true,
        figures: '⚠ anthropic — 6 of last 6 failed: billing · circuit open, next try in 25 s',
      },
      { label: 'Google Gemini', configured: false },
    ]);
    expectValidMessage(msg);
    const text = visibleText(msg);
    expect(text).toContain('*OpenAI*: ✓ openai — 6 of last 6 succeeded · median 1.2 s · 2 models');
    expect(text).toContain(
      '*Anthropic*: ⚠ anthropic — 6 of last 6 failed: billing · circuit open, next try in 25 s',
    );
    expect(text).toContain('*Google Gemini* — not configured');
  });
});
