import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowDefinition } from '../../src/core/workflow-definition.js';
import { readSnapshot } from '../../src/engine/snapshot.js';
import { buildCatalogue } from '../../src/providers/catalogue.js';
import { ACTIONS, CALLBACKS, DEFAULT_PERSONA_VALUE, RUN_MORE_EDIT } from '../../src/slack/views/index.js';
import { loadWorkflowDir } from '../../src/workflows/loader.js';
import { expectValidModal, findByType, visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import { type Harness, interceptLlms, PERSONAS_YML, startHarness } from '../support/slack-harness.js';
import type { StubView } from '../support/slack-requests.js';

/**
 * Authoring in Slack through Bolt's HTTP receiver with signed requests: the workflow editor
 * and its step editor (validated by the file rules, saved as versions with an audit trail),
 * personas, export, and which wins between the file and an edit made in Slack.
 */

const REVIEW_YML = `name: review
description: Review a change
persona: tech-writer
provider: anthropic
model: claude-haiku-4-5
owners: [U0OWNER]
steps:
  - name: read
    prompt: "Read:\\n{{input}}"
  - name: critique
    prompt: "Critique:\\n{{steps.read.output}}"
    persona: marketing
    provider: openai
    model: gpt-4o
    fallbacks: [anthropic/claude-haiku-4-5]
  - name: verdict
    prompt: "Verdict from {{previous.output}}"
`;

let h: Harness;
let reviewFile: string;

beforeAll(async () => {
  h = await startHarness({ workflows: { 'personas.yml': PERSONAS_YML, 'review.yml': REVIEW_YML } });
  reviewFile = join(h.config.workflowsDir, 'review.yml');
  interceptLlms((call) => ({ text: `ok: ${call.prompt.slice(0, 40)}` }));
});

afterEach(async () => {
  writeFileSync(reviewFile, REVIEW_YML);
  await h.reset();
});

afterAll(async () => {
  await h?.close();
});

const prisma = () => h.core.db.prisma;
const review = () =>
  prisma().workflow.findUniqueOrThrow({
    where: { name: 'review' },
    include: { steps: { orderBy: { position: 'asc' } }, versions: { orderBy: { version: 'asc' } } },
  });
const definition = async () => (await review()).definition as unknown as WorkflowDefinition;
const personaId = async (name: string) => (await prisma().persona.findUniqueOrThrow({ where: { name } })).id;
const editAudit = () =>
  prisma().auditEvent.findMany({
    where: { workflow: 'review' },
    orderBy: [{ createdAt: 'asc' }, { field: 'asc' }],
  });

/** The `errors` of a `response_action: errors` ack (empty when there are none). */
const errorsOf = (ack: { json: Record<string, unknown> | undefined }) =>
  (ack.json?.errors ?? {}) as Record<string, string>;
/** The view as the bot sent it (the stub adds the id Slack gives it). */
const valid = (view: StubView | unknown) => {
  const { id: _id, ...sent } = view as StubView;
  expectValidModal(sent);
};
const views = (callbackId: string) => [...h.stub.views.values()].filter((v) => v.callback_id === callbackId);
const latest = async (callbackId: string): Promise<StubView> =>
  waitFor(() => views(callbackId).at(-1), 5000, `a ${callbackId} view`);

async function openEditor(user = 'U0OWNER'): Promise<StubView> {
  const ack = await h.command('edit review', { user });
  expect(ack.status).toBe(200);
  expect(ack.text).toBe('');
  await h.settle();
  return latest(CALLBACKS.editor);
}

/** The editor's overflow choice `op` on step `index`; returns the editor (or the view it pushed). */
async function onStep(editor: StubView, op: string, index: number, user = 'U0OWNER') {
  const click = await h.clickInView(editor, ACTIONS.editorStep, {
    user,
    option: `${op}:${index}`,
    blockId: `wf-step-${index}`,
  });
  expect(click.status).toBe(200);
  await h.settle();
  return h.stub.views.get(editor.id)!;
}

describe('the workflow editor', () => {
  it('/workflow edit opens a valid modal of the steps, saying where the version came from', async () => {
    const editor = await openEditor();
    valid(editor);
    const open = h.stub.callsOf('views.open')[0]!;
    expect(typeof open.body.trigger_id).toBe('string');
    const text = visibleText(editor);
    expect(text).toContain('*review* — Review a change');
    expect(text).toMatch(/v1 · from \S*review\.yml/);
    expect(text).toContain('*2. critique*');
    expect(text).toContain('openai/gpt-4o · persona: marketing · then anthropic/claude-haiku-4-5');
    expect(text).toContain('default (anthropic/claude-haiku-4-5) · persona: default (tech-writer)');
    expect(findByType(editor, 'overflow')).toHaveLength(3);
    // The first step cannot move up, the last cannot move down.
    const first = findByType(editor, 'overflow')[0]!.options as { value: string }[];
    expect(first.map((o) => o.value)).toEqual(['edit:0', 'down:0', 'dup:0', 'remove:0']);
  });

  it('refuses someone who is neither an owner nor an admin', async () => {
    const ack = await h.command('edit review', { user: 'U0MALLORY' });
    const body = await h.answer(ack);
    expect(visibleText(body)).toContain(":lock: You can't edit `review`. Only its owners (<@U0OWNER>)");
    expect(h.stub.callsOf('views.open')).toEqual([]);
    const unknown = await h.command('edit reveiw', { user: 'U0OWNER' });
    expect(visibleText(await h.answer(unknown))).toContain('Did you mean `review`?');
  });

  it('opens from "Edit workflow" on a run’s message, for owners and admins only', async () => {
    await h.command('run review a diff', { user: 'U0ALICE' });
    const run = await waitFor(() => prisma().workflowRun.findFirst({}));
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();
    const { parent } = await h.thread(run.id);
    const denied = await h.click(parent, ACTIONS.runMore, { user: 'U0ALICE', option: RUN_MORE_EDIT });
    expect(visibleText(await h.answer(denied))).toContain("You can't edit `review`");
    await h.click(parent, ACTIONS.runMore, { user: 'U0ADMIN', option: RUN_MORE_EDIT });
    await h.settle();
    valid(await latest(CALLBACKS.editor));
  });

  it('a step editor with a bad template answers with errors keyed to the prompt block, and saves nothing', async () => {
    const editor = await openEditor();
    await onStep(editor, 'edit', 1);
    const step = await latest(CALLBACKS.stepEditor);
    valid(step);
    expect(h.stub.callsOf('views.push')).toHaveLength(1);
    const later = await h.submitView(step, {
      user: 'U0OWNER',
      rootViewId: editor.id,
      inputs: { prompt: 'Use {{steps.verdict.output}} and {{env.HOME}}' },
    });
    expect(later.status).toBe(200);
    expect(later.json?.response_action).toBe('errors');
    const errors = later.json?.errors as Record<string, string>;
    expect(Object.keys(errors)).toEqual(['prompt']);
    expect(errors.prompt).toContain('"verdict"');
    expect(errors.prompt).toContain('env.HOME');
    const badFallback = await h.submitView(step, {
      user: 'U0OWNER',
      inputs: { fallbacks: 'nope, openai/gpt-9' },
    });
    expect(Object.keys(badFallback.json?.errors as object).sort()).toEqual(['fallbacks']);
    const badName = await h.submitView(step, { user: 'U0OWNER', inputs: { name: 'Read Me' } });
    expect(errorsOf(badName).name).toContain('lowercase letters');
    const row = await review();
    expect(row.version).toBe(1);
    expect(row.versions.map((v) => v.version)).toEqual([1]);
    expect(await editAudit()).toEqual([]);
  });

  it('saving a step writes a new version from Slack, relinks its persona by id and audits each field', async () => {
    await h.core.engine.runs.startRun({
      workflow: 'review',
      input: 'x',
      startedBy: 'U0ALICE',
      trigger: 'slash',
    });
    const editor = await openEditor();
    await onStep(editor, 'edit', 1);
    const step = await latest(CALLBACKS.stepEditor);
    const ack = await h.submitView(step, {
      user: 'U0OWNER',
      rootViewId: editor.id,
      inputs: {
        prompt: 'Critique harshly:\n{{steps.read.output}}',
        model: { option: 'anthropic/claude-sonnet-4-5' },
        persona: { option: await personaId('tech-writer') },
        fallbacks: 'google/gemini-2.5-flash, openai/gpt-4o-mini',
      },
    });
    expect(ack.status).toBe(200);
    expect(ack.json?.response_action).toBeUndefined();
    await h.settle();

    const row = await review();
    expect(row).toMatchObject({ version: 2, source: 'slack' });
    expect(row.steps[1]).toMatchObject({
      name: 'critique',
      prompt: 'Critique harshly:\n{{steps.read.output}}',
      provider: 'anthropic',
      model: 'claude-sonnet-4-5',
      personaId: await personaId('tech-writer'),
      fallbacks: [
        { provider: 'google', model: 'gemini-2.5-flash' },
        { provider: 'openai', model: 'gpt-4o-mini' },
      ],
    });
    expect(row.versions.map((v) => [v.version, v.source, v.createdBy])).toEqual([
      [1, `file:${reviewFile}`, 'file'],
      [2, 'slack:U0OWNER', 'U0OWNER'],
    ]);
    expect((row.versions[1]!.definition as unknown as WorkflowDefinition).steps[1]!.persona).toBe(
      'tech-writer',
    );
    const audit = await editAudit();
    expect(audit.map((a) => [a.actor, a.action, a.field, a.fromValue, a.toValue])).toEqual([
      [
        'U0OWNER',
        'workflow.step.edit',
        'v2 steps[1].fallbacks',
        'anthropic/claude-haiku-4-5',
        'google/gemini-2.5-flash, openai/gpt-4o-mini',
      ],
      ['U0OWNER', 'workflow.step.edit', 'v2 steps[1].model', 'gpt-4o', 'claude-sonnet-4-5'],
      ['U0OWNER', 'workflow.step.edit', 'v2 steps[1].persona', 'marketing', 'tech-writer'],
      [
        'U0OWNER',
        'workflow.step.edit',
        'v2 steps[1].prompt',
        'Critique:\n{{steps.read.output}}',
        'Critique harshly:\n{{steps.read.output}}',
      ],
      ['U0OWNER', 'workflow.step.edit', 'v2 steps[1].provider', 'openai', 'anthropic'],
    ]);
    // The editor under the step editor shows the new version.
    const redrawn = h.stub.views.get(editor.id)!;
    expect(visibleText(redrawn)).toContain('Saved v2: edited step *critique*.');
    expect(visibleText(redrawn)).toContain('v2 · edited in Slack by <@U0OWNER>');
    // A run started before keeps its snapshot.
    const run = await prisma().workflowRun.findFirstOrThrow({});
    expect(readSnapshot(run.snapshot).workflowVersion).toBe(1);
    expect(readSnapshot(run.snapshot).definition.steps[1]!.model).toBe('gpt-4o');
    // "Workflow default" clears the step's own choice.
    await onStep(h.stub.views.get(editor.id)!, 'edit', 1);
    const again = await latest(CALLBACKS.stepEditor);
    await h.submitView(again, {
      user: 'U0OWNER',
      rootViewId: editor.id,
      inputs: { model: { option: '__default__' }, persona: { option: DEFAULT_PERSONA_VALUE }, fallbacks: '' },
    });
    await h.settle();
    expect((await review()).steps[1]).toMatchObject({
      provider: null,
      model: null,
      personaId: null,
      fallbacks: [],
    });
  });

  it('a duplicate keeps its persona (the same Persona row) and its provider/model', async () => {
    const personas = await prisma().persona.count();
    const editor = await openEditor();
    const after = await onStep(editor, 'dup', 1);
    valid(after);
    expect(visibleText(after)).toContain('Saved v2: duplicated *critique* as *critique-copy*.');
    const row = await review();
    expect(row.steps.map((s) => s.name)).toEqual(['read', 'critique', 'critique-copy', 'verdict']);
    const [original, copy] = [row.steps[1]!, row.steps[2]!];
    expect(copy).toMatchObject({
      prompt: original.prompt,
      provider: 'openai',
      model: 'gpt-4o',
      personaId: await personaId('marketing'),
      fallbacks: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }],
    });
    expect(copy.personaId).toBe(original.personaId);
    expect(await prisma().persona.count()).toBe(personas);
    expect((await definition()).steps[2]).toMatchObject({ name: 'critique-copy', persona: 'marketing' });
    const audit = await editAudit();
    expect(audit.map((a) => [a.action, a.fromValue, a.toValue])).toEqual([
      ['workflow.step.duplicate', 'critique', 'critique-copy'],
    ]);
    // A second duplicate gets the next free name.
    await onStep(h.stub.views.get(editor.id)!, 'dup', 1);
    expect((await review()).steps.map((s) => s.name)).toContain('critique-copy-2');
  });

  it('moves and removes steps, and refuses a change that breaks a template', async () => {
    const editor = await openEditor();
    let view = await onStep(editor, 'up', 2);
    expect(visibleText(view)).toContain('Saved v2: moved *verdict* up to position 2.');
    expect((await review()).steps.map((s) => s.name)).toEqual(['read', 'verdict', 'critique']);

    // verdict reads {{previous.output}}, so it cannot come first; critique reads read's output.
    view = await onStep(view, 'down', 0);
    expect(visibleText(view)).toContain(
      ':warning: Not saved: steps[0].prompt: {{previous.output}}: the first step has no previous step',
    );
    view = await onStep(view, 'remove', 0);
    expect(visibleText(view)).toContain(':warning: Not saved:');
    expect((await review()).version).toBe(2);

    view = await onStep(view, 'remove', 1);
    expect(visibleText(view)).toContain('Saved v3: removed *verdict*.');
    const row = await review();
    expect(row.steps.map((s) => [s.position, s.name])).toEqual([
      [0, 'read'],
      [1, 'critique'],
    ]);
    expect(row.versions.map((v) => v.version)).toEqual([1, 2, 3]);
    expect((await editAudit()).map((a) => [a.action, a.fromValue, a.toValue])).toEqual([
      ['workflow.step.move', '3. verdict', '2. verdict'],
      ['workflow.step.remove', 'verdict', null],
    ]);
    expect(findByType(view, 'overflow')).toHaveLength(2);
  });

  it('adds a step from an empty step editor', async () => {
    const editor = await openEditor();
    await h.clickInView(editor, ACTIONS.editorAdd, { user: 'U0OWNER' });
    await h.settle();
    const step = await latest(CALLBACKS.stepEditor);
    valid(step);
    expect(visibleText(step)).toContain('New step 4 of review');
    const empty = await h.submitView(step, { user: 'U0OWNER', rootViewId: editor.id });
    expect(errorsOf(empty).prompt).toContain('must not be empty');
    await h.submitView(step, {
      user: 'U0OWNER',
      rootViewId: editor.id,
      inputs: { name: 'summary', prompt: 'Summarize {{steps.verdict.output}}' },
    });
    await h.settle();
    expect((await review()).steps.map((s) => s.name)).toEqual(['read', 'critique', 'verdict', 'summary']);
    expect((await editAudit()).map((a) => [a.action, a.field, a.toValue])).toContainEqual([
      'workflow.step.add',
      'v2 steps[3].name',
      'summary',
    ]);
  });

  it('refuses a change made from an out-of-date editor, and shows the latest', async () => {
    const editor = await openEditor();
    await onStep(editor, 'dup', 0);
    // A second editor opened before that change still says v1.
    const stale = { ...editor, private_metadata: JSON.stringify({ w: 'review', v: 1 }) };
    h.stub.views.set(editor.id, stale);
    const view = await onStep(stale, 'remove', 2);
    expect(visibleText(view)).toContain('Someone else changed this workflow meanwhile (it is now v2)');
    expect((await review()).steps).toHaveLength(4);
    // A step editor from before a change is refused on submit.
    await onStep(view, 'edit', 0);
    const step = await latest(CALLBACKS.stepEditor);
    await onStep(h.stub.views.get(editor.id)!, 'dup', 0);
    const late = await h.submitView(step, { user: 'U0OWNER', inputs: { prompt: 'Read: {{input}}' } });
    expect(errorsOf(late).prompt).toContain('Someone else changed review');
  });

  it('refuses an editor click from someone who lost the right to edit', async () => {
    const editor = await openEditor();
    const view = await onStep(editor, 'remove', 2, 'U0MALLORY');
    expect(visibleText(view)).toContain("You can't edit `review`");
    expect((await review()).version).toBe(1);
  });
});

describe('personas', () => {
  it('adds a persona from a modal, checked by the personas.yml rules', async () => {
    const ack = await h.command('persona add', { user: 'U0OWNER' });
    expect(ack.text).toBe('');
    await h.settle();
    const modal = await latest(CALLBACKS.persona);
    valid(modal);
    const bad = await h.submitView(modal, { user: 'U0OWNER', inputs: { name: 'Bad Name', system: '' } });
    expect(bad.json?.response_action).toBe('errors');
    expect(Object.keys(bad.json?.errors as object).sort()).toEqual(['name', 'system']);
    const taken = await h.submitView(modal, { user: 'U0OWNER', inputs: { name: 'marketing', system: 'x' } });
    expect(errorsOf(taken).name).toContain('already exists');
    const ok = await h.submitView(modal, {
      user: 'U0OWNER',
      inputs: { name: 'reviewer', description: 'Careful reviews', system: 'You review code carefully.' },
    });
    expect(ok.json?.response_action).toBe('update');
    expectValidModal(ok.json?.view);
    expect(await prisma().persona.findUniqueOrThrow({ where: { name: 'reviewer' } })).toMatchObject({
      description: 'Careful reviews',
      system: 'You review code carefully.',
      source: 'slack:U0OWNER',
      disabled: false,
    });
    expect((await prisma().auditEvent.findMany()).map((a) => [a.actor, a.action, a.field])).toEqual([
      ['U0OWNER', 'persona.add', 'persona:reviewer'],
    ]);
    const list = await h.command('persona list', { user: 'U0ANYONE' });
    const text = visibleText(await h.answer(list));
    expect(text).toContain('`reviewer` — Careful reviews · edited in Slack by <@U0OWNER>');
    expect(text).toContain('`marketing` — Customer-facing voice · from personas.yml');
  });

  it('edits a persona; only owners of every workflow using it, or admins, may', async () => {
    const denied = await h.command('persona edit marketing', { user: 'U0MALLORY' });
    expect(visibleText(await h.answer(denied))).toContain("You can't edit persona `marketing`");
    await h.command('persona edit marketing', { user: 'U0OWNER' });
    await h.settle();
    const modal = await latest(CALLBACKS.persona);
    valid(modal);
    expect(visibleText(modal)).toContain('Used by `review`');
    const ok = await h.submitView(modal, { user: 'U0OWNER', inputs: { system: 'Warm, short and clear.' } });
    expect(ok.json?.response_action).toBe('update');
    const row = await prisma().persona.findUniqueOrThrow({ where: { name: 'marketing' } });
    expect(row).toMatchObject({ system: 'Warm, short and clear.', source: 'slack:U0OWNER' });
    expect((await prisma().auditEvent.findMany()).map((a) => [a.action, a.field, a.toValue])).toEqual([
      ['persona.edit', 'persona:marketing.system', 'Warm, short and clear.'],
    ]);
    // The persona file did not change: the sync keeps the Slack edit.
    const summary = await h.core.syncWorkflowFiles();
    expect(summary.personas.kept).toEqual(['marketing']);
    expect((await prisma().persona.findUniqueOrThrow({ where: { name: 'marketing' } })).system).toBe(
      'Warm, short and clear.',
    );
    // Saving from the same (now out-of-date) modal is refused.
    const late = await h.submitView(modal, { user: 'U0OWNER', inputs: { system: 'Again' } });
    expect(errorsOf(late).system).toContain('Someone else changed persona');
  });
});

describe('/workflow export', () => {
  const loadBack = async (yaml: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-export-'));
    try {
      writeFileSync(join(dir, 'personas.yml'), PERSONAS_YML);
      writeFileSync(join(dir, 'review.yml'), yaml);
      return await loadWorkflowDir(dir, buildCatalogue(h.config));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const yamlOf = (body: Record<string, unknown>) => {
    const code = /```\n([\s\S]*)\n```/.exec(visibleText(body))![1]!;
    return code.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  };

  it('returns the YAML in the file format, which loads back to the same definition', async () => {
    const ack = await h.command('export review', { user: 'U0ANYONE' });
    const body = await h.answer(ack);
    const yaml = yamlOf(body);
    expect(yaml).toContain('# review v1, exported from Switchboard');
    expect(yaml).toContain('fallbacks:\n      - anthropic/claude-haiku-4-5');
    expect(yaml).not.toMatch(/timeoutSeconds|personaId/);
    const loaded = await loadBack(yaml);
    expect(loaded.errors).toEqual([]);
    expect(loaded.workflows[0]).toEqual(await definition());
  });

  it('exports what was edited in Slack, and sends a long one as a file in a direct message', async () => {
    const editor = await openEditor();
    await onStep(editor, 'edit', 2);
    const step = await latest(CALLBACKS.stepEditor);
    const long = `Verdict <b>&amp;</b> "quotes": {{previous.output}}\n${'Be thorough. '.repeat(220)}`;
    await h.submitView(step, { user: 'U0OWNER', rootViewId: editor.id, inputs: { prompt: long } });
    await h.settle();
    const ack = await h.command('export review', { user: 'U0ALICE' });
    expect(visibleText(await h.answer(ack))).toContain(
      'is too long for a message, so I sent it as a file in a direct message',
    );
    expect(h.stub.callsOf('conversations.open')[0]!.body.users).toBe('U0ALICE');
    const complete = h.stub.callsOf('files.completeUploadExternal')[0]!;
    expect(JSON.stringify(complete.body)).toContain('D0U0ALICE');
    const [upload] = [...h.stub.uploads.values()];
    expect(upload).toContain('review v2, exported from Switchboard (edited in Slack by U0OWNER)');
    expect(upload).toContain('Be thorough.');
  });
});

describe('which wins: the file or an edit in Slack', () => {
  async function editInSlack() {
    const editor = await openEditor();
    await onStep(editor, 'dup', 2);
    expect((await review()).version).toBe(2);
  }

  it('an unchanged file leaves a Slack edit alone', async () => {
    await editInSlack();
    const summary = await h.core.syncWorkflowFiles();
    expect(summary.kept).toEqual(['review']);
    const row = await review();
    expect(row).toMatchObject({ version: 2, source: 'slack' });
    expect(row.steps.map((s) => s.name)).toContain('verdict-copy');
    const list = await h.command('list', { user: 'U0ANYONE' });
    expect(visibleText(await h.answer(list))).toContain(
      '`review` — Review a change (4 steps) · v2 · edited in Slack by <@U0OWNER>',
    );
  });

  it('a changed file wins and is recorded as a new version from the file', async () => {
    await editInSlack();
    writeFileSync(reviewFile, REVIEW_YML.replace('Review a change', 'Review a change, from the file'));
    const summary = await h.core.syncWorkflowFiles();
    expect(summary.updated).toEqual(['review']);
    const row = await review();
    expect(row).toMatchObject({ version: 3, source: 'file', description: 'Review a change, from the file' });
    expect(row.steps.map((s) => s.name)).toEqual(['read', 'critique', 'verdict']);
    expect(row.versions.map((v) => [v.version, v.source])).toEqual([
      [1, `file:${reviewFile}`],
      [2, 'slack:U0OWNER'],
      [3, `file:${reviewFile}`],
    ]);
    // From now on the file owns it again: an unchanged sync is a no-op.
    expect((await h.core.syncWorkflowFiles()).unchanged).toEqual(['review']);
    expect(readFileSync(reviewFile, 'utf8')).toContain('from the file');
    const editor = await openEditor();
    expect(visibleText(editor)).toMatch(/v3 · from \S*review\.yml/);
  });
});

describe('approval gates and budgets from the editor (docs/control.md)', () => {
  it('a step’s approval is edited in its step editor, checked by the file rules, and exported', async () => {
    const editor = await openEditor();
    await onStep(editor, 'edit', 1);
    const step = await latest(CALLBACKS.stepEditor);
    // Bad input: each refused with a clear error on its own field; nothing saved.
    const cases: [Record<string, string | { option: string }>, Record<string, string>][] = [
      [
        { approval: 'bob' },
        { approval: expect.stringContaining('"bob" is not an approver') as unknown as string },
      ],
      [{ approval: 'S0ONE, S0TWO' }, { approval: 'Name at most one user group.' }],
      [
        { approval: '', approval_timeout: '30' },
        { approval: expect.stringContaining('names no approver') as unknown as string },
      ],
      [
        { approval: 'starter', approval_timeout: 'soon' },
        {
          approval_timeout: expect.stringContaining(
            'must be a whole number from 1 to 43200',
          ) as unknown as string,
        },
      ],
      [
        { approval: 'U0BOB', approval_timeout: '0' },
        { approval_timeout: expect.stringContaining('must be a whole number') as unknown as string },
      ],
    ];
    for (const [inputs, errors] of cases) {
      const ack = await h.submitView(step, { user: 'U0OWNER', rootViewId: editor.id, inputs });
      expect(errorsOf(ack), JSON.stringify(inputs)).toEqual(errors);
    }
    expect((await review()).version).toBe(1);

    const ok = await h.submitView(step, {
      user: 'U0OWNER',
      rootViewId: editor.id,
      inputs: {
        approval: '<@U0BOB>, S0REVIEW, starter',
        approval_timeout: '45',
        approval_on_timeout: { option: 'fail' },
      },
    });
    expect(ok.json?.response_action).toBeUndefined();
    await h.settle();
    const def = await definition();
    expect(def.steps[1]!.approval).toEqual({
      users: ['U0BOB'],
      usergroup: 'S0REVIEW',
      starter: true,
      owners: false,
      timeoutMinutes: 45,
      onTimeout: 'fail',
    });
    expect((await editAudit()).map((a) => [a.action, a.field])).toContainEqual([
      'workflow.step.edit',
      'v2 steps[1].approval',
    ]);
    expect(visibleText(await latest(CALLBACKS.editor))).toContain('approval: U0BOB, S0REVIEW, starter');
    // The step editor opens with the gate filled in.
    await onStep(await latest(CALLBACKS.editor), 'edit', 1);
    const again = await latest(CALLBACKS.stepEditor);
    valid(again);
    expect(JSON.stringify(again)).toContain('"initial_value":"U0BOB, S0REVIEW, starter"');
    const exported = await h.answer(await h.command('export review', { user: 'U0OWNER' }));
    expect(visibleText(exported)).toContain('approval:');
    expect(visibleText(exported)).toContain('on_timeout: fail');
  });

  it('the budget is edited from "Budget…", with bad amounts refused', async () => {
    const editor = await openEditor();
    const click = await h.clickInView(editor, ACTIONS.editorBudget, { user: 'U0OWNER' });
    expect(click.status).toBe(200);
    const modal = await latest(CALLBACKS.budgetEditor);
    valid(modal);
    expect(errorsOf(await h.submitView(modal, { user: 'U0OWNER', inputs: { per_run_usd: 'lots' } }))).toEqual(
      {
        per_run_usd: 'must be an amount in US dollars, e.g. 0.50 (the most one run may spend)',
      },
    );
    expect(errorsOf(await h.submitView(modal, { user: 'U0OWNER', inputs: { per_day_usd: '0' } }))).toEqual({
      per_day_usd: 'must be more than 0 (the most all its runs may spend in a UTC day)',
    });
    expect(
      errorsOf(await h.submitView(modal, { user: 'U0MALLORY', inputs: { per_run_usd: '1' } })).per_run_usd,
    ).toContain("You can't edit");
    expect((await review()).version).toBe(1);

    const ok = await h.submitView(modal, {
      user: 'U0OWNER',
      rootViewId: editor.id,
      inputs: { per_run_usd: '$0.50', per_day_usd: '20' },
    });
    expect(ok.json?.response_action).toBeUndefined();
    await h.settle();
    expect((await definition()).budget).toEqual({ perRunUsd: 0.5, perDayUsd: 20 });
    expect(visibleText(await latest(CALLBACKS.editor))).toContain('budget: $0.50 per run · $20.00 per day');
    const audit = (await editAudit()).find((a) => a.action === 'workflow.budget');
    expect(audit).toMatchObject({
      field: 'v2 budget',
      fromValue: null,
      toValue: '{"per_run_usd":0.5,"per_day_usd":20}',
    });
    // A run started now carries the per-run cap.
    const run = await h.core.engine.runs.startRun({
      workflow: 'review',
      input: 'x',
      startedBy: 'U0ALICE',
      trigger: 'api',
    });
    expect(run.budgetUsd).toBe(0.5);
    // The modal was opened on v1: saving it again is refused as stale.
    const stale = await h.submitView(modal, { user: 'U0OWNER', inputs: { per_run_usd: '1' } });
    expect(errorsOf(stale).per_run_usd).toContain('Someone else changed review meanwhile');
  });
});
