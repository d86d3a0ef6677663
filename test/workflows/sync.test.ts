import { describe, expect, it } from 'vitest';
import type {
  PersonaDefinition,
  StepDefinition,
  WorkflowDefinition,
} from '../../src/core/workflow-definition.js';
import {
  listWorkflows,
  loadWorkflowFromDb,
  type SyncInput,
  syncWorkflows,
} from '../../src/db/workflow-store.js';
import { WorkflowAuthoring } from '../../src/workflows/definition-edits.js';
import { loadWorkflowDir } from '../../src/workflows/loader.js';
import { storesOf, type TestDatabase, useTestDatabase } from '../support/db.js';
import { fakeCatalogue } from './fixtures.js';

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});

const persona = (name: string, system = `You are ${name}.`): PersonaDefinition => ({
  name,
  description: '',
  system,
});
const step = (name: string, over: Partial<StepDefinition> = {}): StepDefinition => ({
  name,
  prompt: `Do ${name}: {{input}}`,
  fallbacks: [],
  ...over,
});
const workflow = (name: string, over: Partial<WorkflowDefinition> = {}): WorkflowDefinition => ({
  name,
  description: `The ${name} workflow`,
  owners: [],
  fallbacks: [],
  steps: [
    step('summarize'),
    step('draft', { persona: 'marketing', provider: 'openai', model: 'gpt-4o-mini' }),
  ],
  persona: 'tech-writer',
  ...over,
});
const PERSONAS = [persona('tech-writer'), persona('marketing')];
const input = (workflows: WorkflowDefinition[], personas = PERSONAS): SyncInput => ({
  workflows,
  personas,
  sourceDir: 'workflows',
});
const sync = (workflows: WorkflowDefinition[], personas = PERSONAS) =>
  syncWorkflows(db.prisma, input(workflows, personas));
const row = (name: string) =>
  db.prisma.workflow.findUniqueOrThrow({
    where: { name },
    include: { steps: { orderBy: { position: 'asc' } } },
  });

describe('syncWorkflows', () => {
  it('creates workflows, their steps and personas on first sync', async () => {
    const summary = await sync([workflow('release-notes'), workflow('digest')]);
    expect(summary).toMatchObject({
      created: ['release-notes', 'digest'],
      updated: [],
      unchanged: [],
      disabled: [],
    });
    expect(summary.personas.created).toEqual(['tech-writer', 'marketing']);

    const notes = await row('release-notes');
    expect(notes).toMatchObject({
      version: 1,
      enabled: true,
      source: 'file',
      sourcePath: 'workflows/release-notes.yml',
    });
    expect(notes.steps.map((s) => [s.position, s.name, s.provider, s.model])).toEqual([
      [0, 'summarize', null, null],
      [1, 'draft', 'openai', 'gpt-4o-mini'],
    ]);
    const writer = await db.prisma.persona.findUniqueOrThrow({ where: { name: 'tech-writer' } });
    expect(writer.source).toBe('file:workflows/personas.yml');
  });

  it('links steps and the workflow to their personas by id', async () => {
    await sync([workflow('release-notes')]);
    const notes = await row('release-notes');
    const byName = Object.fromEntries((await db.prisma.persona.findMany()).map((p) => [p.name, p.id]));
    expect(notes.personaId).toBe(byName['tech-writer']);
    expect(notes.steps.map((s) => s.personaId)).toEqual([null, byName.marketing]);
    const marketing = await db.prisma.persona.findUniqueOrThrow({
      where: { name: 'marketing' },
      include: { steps: true },
    });
    expect(marketing.steps.map((s) => s.name)).toEqual(['draft']);
  });

  it('stores fallbacks, retry and timeout on steps and the workflow', async () => {
    const wf = workflow('a', {
      fallbacks: [{ provider: 'google', model: 'gemini-2.5-flash' }],
      retry: { maxAttempts: 3 },
      steps: [
        step('one', {
          fallbacks: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }],
          retry: { maxAttempts: 4, baseMs: 500 },
          timeoutSeconds: 30,
        }),
      ],
    });
    await sync([wf]);
    const a = await row('a');
    expect(a.fallbacks).toEqual([{ provider: 'google', model: 'gemini-2.5-flash' }]);
    expect(a.retry).toEqual({ maxAttempts: 3 });
    expect(a.steps[0]).toMatchObject({
      fallbacks: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }],
      retry: { maxAttempts: 4, baseMs: 500 },
      timeoutSeconds: 30,
    });
  });

  it('leaves an unchanged workflow alone: same version, same step rows', async () => {
    await sync([workflow('a')]);
    const before = await row('a');
    const summary = await sync([workflow('a')]);
    expect(summary).toMatchObject({ created: [], updated: [], unchanged: ['a'] });
    expect(summary.personas.unchanged).toEqual(['tech-writer', 'marketing']);
    const after = await row('a');
    expect(after.version).toBe(1);
    expect(after.steps.map((s) => s.id)).toEqual(before.steps.map((s) => s.id));
  });

  it('bumps the version and recreates the steps when the definition changed', async () => {
    await sync([workflow('a')]);
    const changed = workflow('a', {
      steps: [step('only', { prompt: 'Just {{input}}', provider: 'google', model: 'gemini-2.5-pro' })],
    });
    const summary = await sync([changed]);
    expect(summary).toMatchObject({ updated: ['a'], unchanged: [] });
    const a = await row('a');
    expect(a.version).toBe(2);
    expect(a.steps.map((s) => [s.name, s.prompt, s.provider])).toEqual([
      ['only', 'Just {{input}}', 'google'],
    ]);
    expect(a.definition).toMatchObject({ steps: [{ name: 'only' }] });

    await sync([changed]);
    expect((await row('a')).version).toBe(2);
  });

  it('does not bump the version when only key order differs (jsonb reorders keys)', async () => {
    await sync([workflow('a', { retry: { maxAttempts: 2, baseMs: 10 } })]);
    const reordered = workflow('a');
    const { steps, ...rest } = reordered;
    const shuffled = { steps, ...rest, retry: { baseMs: 10, maxAttempts: 2 } } as WorkflowDefinition;
    await sync([shuffled]);
    expect((await row('a')).version).toBe(1);
  });

  it('updates a persona’s prompt without touching workflow versions', async () => {
    await sync([workflow('a')]);
    const summary = await sync([workflow('a')], [persona('tech-writer', 'Be terse.'), persona('marketing')]);
    expect(summary.personas.updated).toEqual(['tech-writer']);
    expect(summary.unchanged).toEqual(['a']);
    expect((await db.prisma.persona.findUniqueOrThrow({ where: { name: 'tech-writer' } })).system).toBe(
      'Be terse.',
    );
  });

  it('disables a workflow whose file vanished and never deletes it', async () => {
    await sync([workflow('a'), workflow('b')]);
    const summary = await sync([workflow('a')]);
    expect(summary.disabled).toEqual(['b']);
    expect(await row('b')).toMatchObject({ enabled: false, version: 1 });
    expect((await row('b')).steps).toHaveLength(2);
    expect((await sync([workflow('a')])).disabled).toEqual([]);
  });

  it('keeps the runs of a removed workflow intact', async () => {
    await sync([workflow('a'), workflow('b')]);
    const b = await row('b');
    const run = await db.prisma.workflowRun.create({
      data: {
        workflowId: b.id,
        workflowName: 'b',
        snapshot: { definition: b.definition },
        trigger: 'cli',
        startedBy: 'cli:test',
      },
    });
    await sync([workflow('a')]);
    expect(await row('b')).toMatchObject({ id: b.id, enabled: false });
    expect(await db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).toMatchObject({
      workflowId: b.id,
      workflowName: 'b',
    });
  });

  it('re-enables a workflow whose file came back, bumping the version only if it changed', async () => {
    await sync([workflow('a'), workflow('b')]);
    await sync([workflow('a')]);
    const summary = await sync([workflow('a'), workflow('b')]);
    expect(summary.enabled).toEqual(['b']);
    expect(await row('b')).toMatchObject({ enabled: true, version: 1 });

    await sync([workflow('a')]);
    await sync([workflow('a'), workflow('b', { description: 'changed' })]);
    expect(await row('b')).toMatchObject({ enabled: true, version: 2, description: 'changed' });
  });

  it('disables personas removed from personas.yml and re-enables them when they return', async () => {
    await sync([workflow('a', { persona: undefined, steps: [step('x')] })]);
    const summary = await sync(
      [workflow('a', { persona: undefined, steps: [step('x')] })],
      [persona('tech-writer')],
    );
    expect(summary.personas.disabled).toEqual(['marketing']);
    expect((await db.prisma.persona.findUniqueOrThrow({ where: { name: 'marketing' } })).disabled).toBe(true);
    const back = await sync([workflow('a')]);
    expect(back.personas.enabled).toEqual(['marketing']);
  });

  it('leaves workflows that did not come from files alone', async () => {
    await db.prisma.workflow.create({ data: { name: 'from-slack', definition: {}, source: 'slack:U1' } });
    const summary = await sync([workflow('a')]);
    expect(summary.disabled).toEqual([]);
    expect((await row('from-slack')).enabled).toBe(true);
  });

  it('two processes syncing at once both succeed and create each workflow once', async () => {
    const results = await Promise.all([
      sync([workflow('a'), workflow('b')]),
      sync([workflow('a'), workflow('b')]),
    ]);
    expect(results.flatMap((r) => r.created).sort()).toEqual(['a', 'b']);
    expect(await db.prisma.workflow.count()).toBe(2);
  });

  it('refuses a workflow naming a persona that is nowhere, and writes nothing', async () => {
    await expect(sync([workflow('a', { persona: 'ghost' })])).rejects.toThrow(/persona "ghost"/);
    expect(await db.prisma.workflow.count()).toBe(0);
    expect(await db.prisma.persona.count()).toBe(0);
  });

  it('syncs the shipped examples, and a second sync changes nothing', async () => {
    const loaded = await loadWorkflowDir(
      new URL('../../workflows/', import.meta.url).pathname,
      fakeCatalogue(),
    );
    const first = await syncWorkflows(db.prisma, { ...loaded, sourceDir: 'workflows' });
    expect(first.created.sort()).toEqual(['incident-summary', 'pr-review-digest', 'release-notes']);
    expect((await row('release-notes')).sourcePath).toMatch(/workflows\/release-notes\.yml$/);
    const second = await syncWorkflows(db.prisma, { ...loaded, sourceDir: 'workflows' });
    expect(second.unchanged.sort()).toEqual(['incident-summary', 'pr-review-digest', 'release-notes']);
    expect(second.personas.unchanged).toHaveLength(4);
  });
});

describe('loadWorkflowFromDb', () => {
  it('returns the row, the definition and the personas it names', async () => {
    await sync([workflow('a')]);
    const stored = await loadWorkflowFromDb(db.query, 'a');
    expect(stored?.definition).toEqual(JSON.parse(JSON.stringify(workflow('a'))));
    expect(stored?.workflow).toMatchObject({ name: 'a', version: 1, enabled: true });
    expect(stored?.definition.steps.map((s) => s.name)).toEqual(['summarize', 'draft']);
    expect([...stored!.personas.keys()].sort()).toEqual(['marketing', 'tech-writer']);
    expect(stored!.personas.get('marketing')).toMatchObject({
      name: 'marketing',
      system: 'You are marketing.',
    });
  });

  it('returns null for an unknown workflow, and for a disabled one unless asked', async () => {
    await sync([workflow('a'), workflow('b')]);
    await sync([workflow('a')]);
    expect(await loadWorkflowFromDb(db.query, 'nope')).toBeNull();
    expect(await loadWorkflowFromDb(db.query, 'b')).toBeNull();
    expect((await loadWorkflowFromDb(db.query, 'b', { includeDisabled: true }))?.workflow.enabled).toBe(
      false,
    );
  });
});

describe('listWorkflows', () => {
  it('lists enabled workflows by name with their step count and persona', async () => {
    await sync([
      workflow('zeta'),
      workflow('alpha', { persona: undefined, steps: [step('x')] }),
      workflow('gone'),
    ]);
    await sync([workflow('zeta'), workflow('alpha', { persona: undefined, steps: [step('x')] })]);
    const list = await listWorkflows(db.prisma);
    expect(list.map((w) => [w.name, w.steps, w.persona])).toEqual([
      ['alpha', 1, null],
      ['zeta', 2, 'tech-writer'],
    ]);
    expect(
      (await listWorkflows(db.prisma, { includeDisabled: true })).map((w) => [w.name, w.enabled]),
    ).toContainEqual(['gone', false]);
  });
});

describe('versions and which wins between a file and an edit in Slack', () => {
  const versions = async (name: string) =>
    (
      await db.prisma.workflowVersion.findMany({
        where: { workflow: { name } },
        orderBy: { version: 'asc' },
      })
    ).map((v) => [v.version, v.source, v.createdBy]);

  /** An edit as the Slack editor saves it: a whole new definition, the next version. */
  async function editInSlack(
    name: string,
    change: (d: WorkflowDefinition) => WorkflowDefinition,
    actor = 'U0EDITOR',
  ) {
    const current = await row(name);
    const definition = change(current.definition as unknown as WorkflowDefinition);
    return new WorkflowAuthoring(storesOf(db).workflows, fakeCatalogue()).save({
      workflowId: current.id,
      expectedVersion: current.version,
      definition,
      actor,
      action: 'workflow.step.edit',
      changes: [{ field: 'steps[0].prompt', from: 'a', to: 'b' }],
    });
  }
  const slackPrompt = (d: WorkflowDefinition) => ({
    ...d,
    steps: d.steps.map((s, i) => (i === 0 ? { ...s, prompt: 'Edited in Slack: {{input}}' } : s)),
  });

  it('writes a version row when a workflow is created and each time its file changes, not otherwise', async () => {
    await sync([workflow('a')]);
    await sync([workflow('a')]);
    await sync([workflow('a', { description: 'changed' })]);
    expect(await versions('a')).toEqual([
      [1, 'file:workflows/a.yml', 'file'],
      [2, 'file:workflows/a.yml', 'file'],
    ]);
    const v2 = await db.prisma.workflowVersion.findFirstOrThrow({ where: { version: 2 } });
    expect(v2.definition).toMatchObject({ description: 'changed' });
  });

  it('keeps a Slack edit while the file stays the same', async () => {
    await sync([workflow('a')]);
    expect(await editInSlack('a', slackPrompt)).toEqual({ version: 2 });
    expect(await row('a')).toMatchObject({ version: 2, source: 'slack' });

    const summary = await sync([workflow('a')]);
    expect(summary).toMatchObject({ kept: ['a'], updated: [], unchanged: [] });
    const a = await row('a');
    expect(a).toMatchObject({ version: 2, source: 'slack' });
    expect(a.steps[0]!.prompt).toBe('Edited in Slack: {{input}}');
    expect(await versions('a')).toEqual([
      [1, 'file:workflows/a.yml', 'file'],
      [2, 'slack:U0EDITOR', 'U0EDITOR'],
    ]);
  });

  it('lets a changed file win over a Slack edit, as a new version from the file', async () => {
    await sync([workflow('a')]);
    await editInSlack('a', slackPrompt);
    const summary = await sync([workflow('a', { description: 'the file moved on' })]);
    expect(summary.updated).toEqual(['a']);
    const a = await row('a');
    expect(a).toMatchObject({ version: 3, source: 'file', description: 'the file moved on' });
    expect(a.steps[0]!.prompt).toBe('Do summarize: {{input}}');
    expect(await versions('a')).toEqual([
      [1, 'file:workflows/a.yml', 'file'],
      [2, 'slack:U0EDITOR', 'U0EDITOR'],
      [3, 'file:workflows/a.yml', 'file'],
    ]);
    // And then a Slack edit wins again until the next change of the file.
    await editInSlack('a', slackPrompt, 'U0OTHER');
    expect((await sync([workflow('a', { description: 'the file moved on' })])).kept).toEqual(['a']);
  });

  it('keeps a Slack-edited workflow whose file was removed', async () => {
    await sync([workflow('a'), workflow('b')]);
    await editInSlack('b', slackPrompt);
    const summary = await sync([workflow('a')]);
    expect(summary.disabled).toEqual([]);
    expect(await row('b')).toMatchObject({ enabled: true, source: 'slack' });
  });

  it('refuses a Slack save made from an out-of-date version, and writes nothing', async () => {
    await sync([workflow('a')]);
    const current = await row('a');
    await editInSlack('a', slackPrompt);
    await expect(
      new WorkflowAuthoring(storesOf(db).workflows, fakeCatalogue()).save({
        workflowId: current.id,
        expectedVersion: current.version,
        definition: current.definition as unknown as WorkflowDefinition,
        actor: 'U0LATE',
        action: 'workflow.step.edit',
        changes: [],
      }),
    ).rejects.toMatchObject({ code: 'stale' });
    expect((await row('a')).version).toBe(2);
    expect(await db.prisma.auditEvent.count({ where: { actor: 'U0LATE' } })).toBe(0);
  });

  it('gives a workflow synced before versions existed its version row and hash, without a new version', async () => {
    await sync([workflow('a')]);
    await db.prisma.workflowVersion.deleteMany({});
    await db.prisma.workflow.updateMany({ data: { fileHash: null } });
    expect((await sync([workflow('a')])).unchanged).toEqual(['a']);
    expect(await row('a')).toMatchObject({ version: 1 });
    expect(await versions('a')).toEqual([[1, 'file:workflows/a.yml', 'file']]);
    expect((await row('a')).fileHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('applies the same rule to personas, entry by entry', async () => {
    await sync([workflow('a')]);
    await db.prisma.persona.update({
      where: { name: 'marketing' },
      data: { system: 'Edited in Slack.', source: 'slack:U0EDITOR' },
    });
    const kept = await sync([workflow('a')]);
    expect(kept.personas).toMatchObject({ kept: ['marketing'], unchanged: ['tech-writer'] });
    expect((await db.prisma.persona.findUniqueOrThrow({ where: { name: 'marketing' } })).system).toBe(
      'Edited in Slack.',
    );
    const changed = await sync(
      [workflow('a')],
      [persona('tech-writer'), persona('marketing', 'From the file.')],
    );
    expect(changed.personas.updated).toEqual(['marketing']);
    expect(await db.prisma.persona.findUniqueOrThrow({ where: { name: 'marketing' } })).toMatchObject({
      system: 'From the file.',
      source: 'file:workflows/personas.yml',
    });
  });
});
