import { describe, expect, it } from 'vitest';
import {
  type EditorInput,
  exportFitsMessage,
  exportMessage,
  homeView,
  originMrkdwn,
  parseEditorMetadata,
  parseStepEditorMetadata,
  parseStepOperation,
  personaEditorModal,
  personaListMessage,
  type StepEditorInput,
  scheduleChangedMessage,
  scheduleListMessage,
  stepEditorModal,
  workflowEditorModal,
} from '../../../src/slack/views/index.js';
import { blockErrors } from '../../../src/slack/workflow-editor.js';
import { MAX_STEPS } from '../../../src/workflows/schema.js';
import {
  expectValidHome,
  expectValidMessage,
  expectValidModal,
  findByType,
  visibleText,
} from '../../support/block-kit.js';
import { aPausedStep, aRun, BARE_BROADCAST, HOSTILE, someMenus } from './factories.js';

/** The authoring, schedule and Home views: valid Block Kit within Slack's limits, and what people see. */

/** HOSTILE's control sequences (the views' own mentions of real users and channels are fine). */
const HOSTILE_SEQUENCE = /<!|<https?:|<@U123>|<#C1>/;

const editor = (over: Partial<EditorInput> = {}): EditorInput => ({
  name: 'release-notes',
  description: 'Draft release notes',
  version: 7,
  origin: { version: 7, kind: 'slack', detail: 'U0123ABC' },
  owners: ['U0OWNER'],
  defaultModel: 'anthropic/claude-haiku-4-5',
  defaultPersona: 'tech-writer',
  steps: [
    { name: 'summarize', prompt: 'Summarize {{input}}', fallbacks: [] },
    {
      name: 'draft',
      prompt: 'Draft',
      provider: 'openai',
      model: 'gpt-4o',
      persona: 'marketing',
      fallbacks: ['google/gemini-2.5-flash'],
    },
  ],
  maxSteps: MAX_STEPS,
  ...over,
});

const stepInput = (over: Partial<StepEditorInput> = {}): StepEditorInput => ({
  workflow: 'release-notes',
  version: 7,
  index: 1,
  adding: false,
  total: 2,
  step: {
    name: 'draft',
    prompt: 'Draft',
    provider: 'openai',
    model: 'gpt-4o',
    persona: 'marketing',
    fallbacks: [],
  },
  providers: someMenus().providers,
  personas: [
    { id: 'cpersona000000000000000001', name: 'marketing' },
    { id: 'cpersona000000000000000002', name: 'tech-writer' },
  ],
  defaultModel: 'anthropic/claude-haiku-4-5',
  defaultPersona: 'tech-writer',
  ...over,
});

describe('the workflow editor modal', () => {
  it('shows each step with its model, persona and an overflow menu, and where the version came from', () => {
    const view = workflowEditorModal(editor());
    expectValidModal(view);
    const text = visibleText(view);
    expect(text).toContain('v7 · edited in Slack by <@U0123ABC>');
    expect(text).toContain('*2. draft*');
    expect(text).toContain('openai/gpt-4o · persona: marketing · then google/gemini-2.5-flash');
    expect(parseEditorMetadata(view.private_metadata)).toEqual({ workflow: 'release-notes', version: 7 });
    expect(findByType(view, 'button').map((b) => b.action_id)).toEqual(['wf_add_step', 'wf_budget']);
    expect(visibleText(view)).toContain('budget: none');
  });

  it('holds the largest workflow a file may have within 100 blocks, and then offers no Add step', () => {
    const steps = Array.from({ length: MAX_STEPS }, (_, i) => ({
      name: `step-${i}`,
      prompt: `${'p'.repeat(5000)} {{input}}`,
      fallbacks: [],
    }));
    const view = workflowEditorModal(editor({ steps, notice: { ok: false, text: 'Not saved: x' } }));
    expectValidModal(view);
    expect(view.blocks.length).toBeLessThanOrEqual(100);
    expect(findByType(view, 'overflow')).toHaveLength(MAX_STEPS);
    // No Add step; the budget can still be edited.
    expect(findByType(view, 'button').map((b) => b.action_id)).toEqual(['wf_budget']);
  });

  it('shows hostile names and prompts inertly', () => {
    const view = workflowEditorModal(
      editor({ description: HOSTILE, steps: [{ name: HOSTILE, prompt: HOSTILE, fallbacks: [] }] }),
    );
    expectValidModal(view);
    expect(visibleText(view)).not.toMatch(HOSTILE_SEQUENCE);
    expect(visibleText(view)).not.toMatch(BARE_BROADCAST);
  });

  it('parses its overflow values and metadata strictly', () => {
    expect(parseStepOperation('dup:3')).toEqual({ op: 'dup', index: 3 });
    for (const bad of ['drop:1', 'edit:-1', 'edit:x', 'edit:1:2', 42, undefined]) {
      expect(parseStepOperation(bad)).toBeUndefined();
    }
    expect(parseEditorMetadata('{"w":1}')).toBeUndefined();
    expect(parseEditorMetadata('nope')).toBeUndefined();
    expect(parseStepEditorMetadata('{"w":"a","v":2,"i":1,"a":true}')).toEqual({
      workflow: 'a',
      version: 2,
      index: 1,
      adding: true,
    });
  });

  it('says where a file version came from', () => {
    expect(originMrkdwn({ version: 3, kind: 'file', detail: 'workflows/release-notes.yml' })).toBe(
      'v3 · from workflows/release-notes.yml',
    );
  });
});

describe('the step editor modal', () => {
  it('preselects the step’s model and persona, with "Workflow default" first in each', () => {
    const view = stepEditorModal(stepInput());
    expectValidModal(view);
    const [model, persona] = findByType(view, 'static_select');
    expect(model!.initial_option).toMatchObject({ value: 'openai/gpt-4o' });
    expect((model!.option_groups as { options: { value: string }[] }[])[0]!.options[0]!.value).toBe(
      '__default__',
    );
    expect(persona!.initial_option).toMatchObject({ value: 'cpersona000000000000000001' });
    expect(visibleText(view)).toContain('Workflow default (anthropic/claude-haiku-4-5)');
    expect(visibleText(view)).toContain('Workflow default (tech-writer)');
  });

  it('keeps a model its provider does not offer here, and at most 100 options', () => {
    const many = [{ id: 'openai', label: 'OpenAI', models: Array.from({ length: 150 }, (_, i) => `m-${i}`) }];
    const view = stepEditorModal(
      stepInput({
        providers: many,
        step: { ...stepInput().step, provider: 'google', model: 'gemini-2.5-pro' },
      }),
    );
    expectValidModal(view);
    const [model] = findByType(view, 'static_select');
    const options = (model!.option_groups as { options: unknown[] }[]).flatMap((g) => g.options);
    expect(options.length).toBeLessThanOrEqual(100);
    expect(model!.initial_option).toMatchObject({ value: 'google/gemini-2.5-pro' });
  });

  it('shows a prompt longer than a text box holds as read-only, and keeps it', () => {
    const view = stepEditorModal(stepInput({ step: { ...stepInput().step, prompt: 'x'.repeat(5000) } }));
    expectValidModal(view);
    expect(findByType(view, 'input').map((b) => b.block_id)).toEqual([
      'name',
      'model',
      'persona',
      'fallbacks',
      'approval',
      'approval_timeout',
      'approval_on_timeout',
    ]);
    expect(visibleText(view)).toContain('5,000 characters, more than a Slack text box holds');
  });
});

describe('personas and export', () => {
  it('the persona editor asks for a name only when adding', () => {
    const add = personaEditorModal({});
    expectValidModal(add);
    expect(findByType(add, 'input').map((b) => b.block_id)).toEqual(['name', 'description', 'system']);
    const edit = personaEditorModal({
      persona: {
        name: 'marketing',
        description: 'Warm',
        system: 'Be warm.',
        updatedAt: '2026-01-01T00:00:00.000Z',
      },
      usedBy: ['release-notes'],
    });
    expectValidModal(edit);
    expect(findByType(edit, 'input').map((b) => b.block_id)).toEqual(['description', 'system']);
    expect(visibleText(edit)).toContain('Used by `release-notes`: a change applies to their next runs.');
  });

  it('lists personas with where they came from', () => {
    const msg = personaListMessage([
      { name: 'a', description: HOSTILE, source: 'slack:U0ABC' },
      { name: 'b', description: '', source: 'file:/srv/workflows/personas.yml' },
    ]);
    expectValidMessage(msg);
    expect(visibleText(msg)).toContain('· edited in Slack by <@U0ABC>');
    expect(visibleText(msg)).toContain('`b` · from personas.yml');
    expect(visibleText(msg)).not.toMatch(HOSTILE_SEQUENCE);
  });

  it('an export shows YAML escaped in a code block, when it fits one', () => {
    const yaml = 'name: a\nsteps:\n  - name: x\n    prompt: "<!channel> & {{input}}"\n';
    expect(exportFitsMessage(yaml)).toBe(true);
    const msg = exportMessage('a', yaml, { version: 2, kind: 'slack', detail: 'U0ABC' });
    expectValidMessage(msg);
    expect(visibleText(msg)).toContain('prompt: "&lt;!channel&gt; &amp; {{input}}"');
    expect(exportFitsMessage('prompt: "```"')).toBe(false);
    expect(exportFitsMessage('x'.repeat(3000))).toBe(false);
  });
});

describe('file-rule problems as modal errors', () => {
  it('puts a problem of the edited step on its input, anything else on the fallback with its path', () => {
    const blocks = new Set(['name', 'prompt', 'model', 'persona', 'fallbacks']);
    expect(
      blockErrors(
        [
          { path: ['steps', 1, 'prompt'], message: 'unknown variable {{env.HOME}}' },
          { path: ['steps', 1, 'fallbacks', 0], message: 'bad fallback' },
          { path: ['steps', 1, 'model'], message: 'unknown model' },
          { path: ['steps', 2, 'prompt'], message: 'unknown step "draft"' },
          { path: ['steps', 1, 'retry'], message: 'bad retry' },
        ],
        1,
        blocks,
        'prompt',
      ),
    ).toEqual({
      prompt:
        'unknown variable {{env.HOME}}; steps[2].prompt: unknown step "draft"; steps[1].retry: bad retry',
      fallbacks: 'bad fallback',
      model: 'unknown model',
    });
    // With no prompt input (a prompt too long for Slack), its problems go to the fallback.
    expect(
      blockErrors([{ path: ['steps', 0, 'prompt'], message: 'm' }], 0, new Set(['name']), 'name'),
    ).toEqual({
      name: 'm',
    });
  });
});

describe('schedule messages and the Home tab', () => {
  const schedule = {
    number: 3,
    workflow: 'release-notes',
    source: 'slack' as const,
    cron: '0 9 * * 1-5',
    timezone: 'Europe/Berlin',
    channelId: 'C0DIGEST',
    input: HOSTILE,
    paused: false,
    createdBy: 'U0OWNER',
    nextFireLocal: 'Mon, 2 Mar 2026, 09:00 UTC+1',
  };

  it('lists and confirms schedules with their next fire time, inertly', () => {
    const list = scheduleListMessage([
      schedule,
      { ...schedule, number: 4, paused: true, source: 'file', createdBy: 'file:/x/digest.yml' },
    ]);
    expectValidMessage(list);
    const text = visibleText(list);
    expect(text).toContain(
      '`#3` *release-notes* `0 9 * * 1-5` Europe/Berlin → <#C0DIGEST> · next Mon, 2 Mar 2026, 09:00 UTC+1',
    );
    expect(text).toContain('`#4`');
    expect(text).toContain(':double_vertical_bar: paused');
    expect(text).toContain('from digest.yml');
    expect(text).not.toMatch(HOSTILE_SEQUENCE);
    for (const change of ['added', 'paused', 'resumed', 'removed'] as const) {
      expectValidMessage(scheduleChangedMessage(change, schedule));
    }
    expectValidMessage(scheduleListMessage([]));
  });

  it('Home stays within 100 blocks with many paused runs and schedules', () => {
    const attention = Array.from({ length: 10 }, (_, i) => ({
      run: aRun({ id: `crun${i}`.padEnd(25, '0'), number: i + 1, status: 'paused' as const }),
      step: aPausedStep({ id: `cstep${i}`.padEnd(25, '0') }),
      alternatives: [
        { provider: 'openai', model: 'gpt-4o-mini' },
        { provider: 'google', model: 'gemini-2.5-flash' },
        { provider: 'openai', model: 'gpt-4o' },
        { provider: 'openai', model: 'o4-mini' },
      ],
    }));
    const view = homeView({
      attention,
      moreAttention: 5,
      menus: someMenus(),
      recent: Array.from({ length: 10 }, (_, i) => aRun({ number: i + 1, input: HOSTILE })),
      health: [{ ok: false, text: 'Anthropic: ⚠ anthropic — 3 of last 3 failed: billing' }],
      schedules: Array.from({ length: 20 }, (_, i) => ({ ...schedule, number: i + 1 })),
      notice: ':warning: something',
    });
    expectValidHome(view);
    expect(view.blocks.length).toBeLessThanOrEqual(100);
    expect(visibleText(view)).toContain('…and 5 more paused');
    expect(
      findByType(view, 'button').filter((b) => String(b.action_id).startsWith('alert_retry_with')),
    ).toHaveLength(30);
  });
});
