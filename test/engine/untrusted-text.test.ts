import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { MAX_INPUT_BYTES } from '../../src/engine/runs.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTestEngine, putWorkflow, ScriptedProvider, step, waitForRun } from '../support/engine.js';

/** Text from users and from models is data: it is never evaluated as a template. */

let db: TestDatabase;
let engine: Engine | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
});
afterEach(async () => {
  await engine?.stop(0);
  engine = undefined;
});

describe('untrusted text in prompts', () => {
  it('input that looks like a template ({{env.HOME}}, {{steps.x.output}}) reaches the provider as written', async () => {
    const openai = new ScriptedProvider('openai', (r) => `echo ${r.prompt}`);
    await putWorkflow(db, {
      name: 'echo',
      provider: 'openai',
      steps: [step('one', 'Summarise: {{input}}'), step('two', 'Then: {{previous.output}}')],
    });
    engine = createTestEngine(db, [openai]);
    await engine.start();
    const input = '{{env.HOME}} {{ env.OPENAI_API_KEY }} {{steps.one.output}} {{run.id}}';
    const run = await engine.runs.startRun({ workflow: 'echo', input, startedBy: 'U1', trigger: 'slash' });
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls[0]?.prompt).toBe(`Summarise: ${input}`);
    // A model's output that contains template syntax is not expanded in the next step either.
    expect(openai.calls[1]?.prompt).toBe(`Then: echo Summarise: ${input}`);
    expect(openai.calls.map((c) => c.prompt).join('\n')).not.toContain(process.env.HOME ?? '/nonexistent');
  });

  it('refuses a 1 MB input with a clear message and creates nothing', async () => {
    const openai = new ScriptedProvider('openai');
    await putWorkflow(db, { name: 'big', provider: 'openai', steps: [step('one', '{{input}}')] });
    engine = createTestEngine(db, [openai]);
    const before = await db.prisma.workflowRun.count();
    await expect(
      engine.runs.startRun({
        workflow: 'big',
        input: 'x'.repeat(1024 * 1024),
        startedBy: 'U1',
        trigger: 'slash',
      }),
    ).rejects.toMatchObject({
      code: 'input_too_large',
      message: expect.stringMatching(/^Input is 1024 KB; the limit is 100 KB\./),
    });
    expect(await db.prisma.workflowRun.count()).toBe(before);
    // Multi-byte characters count as the bytes they take, not as characters.
    const emoji = '😀'.repeat(MAX_INPUT_BYTES / 4 + 1);
    await expect(
      engine.runs.startRun({ workflow: 'big', input: emoji, startedBy: 'U1', trigger: 'slash' }),
    ).rejects.toMatchObject({ code: 'input_too_large' });
  });
});
