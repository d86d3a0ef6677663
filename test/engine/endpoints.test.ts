import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Core, createCore } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { InProcessQueue } from '../../src/engine/queue.js';
import { silentLogger } from '../../src/logging.js';
import { createTestDatabase, type TestDatabase, truncateAll } from '../support/db.js';
import { waitForRun } from '../support/engine.js';
import { type ChatRequest, completionReply } from '../support/openai-stub.js';

/**
 * Named OpenAI-compatible endpoints beside OpenAI (LLM_ENDPOINTS): the bot as configured
 * (createCore, the real openai SDK for both), with OpenAI's origin and a local Ollama's
 * intercepted side by side. A step on `ollama/llama3.1` with a fallback to
 * `openai/gpt-4o-mini` reaches each at its own base URL with its own key.
 */

const OLLAMA = 'http://ollama.test:11434';
const OPENAI = 'https://api.openai.com';

const WORKFLOW = `name: local-first
steps:
  - name: answer
    prompt: "Answer: {{input}}"
    provider: ollama
    model: llama3.1
    fallbacks: [openai/gpt-4o-mini]
`;

let dir: string;
let db: TestDatabase;
let core: Core;

interface Seen {
  origin: string;
  model: string;
  authorization: string | undefined;
  prompt: string;
}
let seen: Seen[] = [];

function answer(origin: string, reply: (body: ChatRequest) => [number, unknown, Record<string, string>?]) {
  nock(origin)
    .post('/v1/chat/completions')
    .reply(async (req: Request) => {
      const request = (await req.json()) as ChatRequest;
      seen.push({
        origin,
        model: request.model,
        authorization: req.headers.get('authorization') ?? undefined,
        prompt: String(request.messages.at(-1)?.content ?? ''),
      });
      return reply(request);
    })
    .persist();
}

beforeAll(async () => {
  nock.disableNetConnect();
  dir = mkdtempSync(join(tmpdir(), 'sb-endpoints-'));
  writeFileSync(join(dir, 'local-first.yml'), WORKFLOW);
  const config = loadConfig({
    WORKFLOWS_DIR: dir,
    LOG_LEVEL: 'silent',
    OPENAI_API_KEY: 'sk-test-openai-endpoints',
    LLM_ENDPOINTS: 'ollama',
    OLLAMA_BASE_URL: `${OLLAMA}/v1`,
    OLLAMA_MODELS: 'llama3.1,qwen2.5',
    OLLAMA_LABEL: 'Ollama (lab box)',
    RETRY_MAX_ATTEMPTS: '2',
    RETRY_BASE_MS: '1',
    RETRY_MAX_MS: '5',
  });
  db = await createTestDatabase();
  core = await createCore(config, { db, logger: silentLogger, queue: new InProcessQueue(), health: false });
  await core.engine.start();
});

afterEach(async () => {
  nock.cleanAll();
  seen = [];
  await truncateAll(db);
  await core.syncWorkflowFiles();
});

afterAll(async () => {
  await core?.close();
  nock.enableNetConnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('a named endpoint beside OpenAI', () => {
  it('is a provider of its own: offered after the built-ins, with its label and models', () => {
    expect(core.catalogue.providers).toEqual(['openai', 'ollama']);
    expect(core.catalogue.label('ollama')).toBe('Ollama (lab box)');
    expect(core.catalogue.models('ollama')).toEqual(['llama3.1', 'qwen2.5']);
    expect(core.providers.configured()).toEqual(['openai', 'ollama']);
  });

  it('answers a step that names it, at its own base URL, and OpenAI is not called', async () => {
    answer(OLLAMA, (body) => completionReply(body, 'local answer', 1));
    answer(OPENAI, (body) => completionReply(body, 'cloud answer', 2));
    const run = await core.engine.runs.startRun({
      workflow: 'local-first',
      input: 'why is the sky blue?',
      startedBy: 'U1',
      trigger: 'api',
    });
    await waitForRun(db, run.id, ['completed']);
    const [step] = await db.prisma.runStep.findMany({ where: { runId: run.id } });
    expect(step).toMatchObject({
      output: 'local answer',
      answeredProvider: 'ollama',
      answeredModel: 'llama3.1',
    });
    // No key for Ollama: the SDK still sends one, a placeholder, never OpenAI's.
    expect(seen).toEqual([
      {
        origin: OLLAMA,
        model: 'llama3.1',
        authorization: 'Bearer not-needed',
        prompt: 'Answer: why is the sky blue?',
      },
    ]);
  });

  it('falls back to openai/gpt-4o-mini when the endpoint fails, both configured at once', async () => {
    answer(OLLAMA, () => [503, { error: { message: 'model is loading', type: 'server_error' } }]);
    answer(OPENAI, (body) => completionReply(body, 'cloud answer', 1));
    const run = await core.engine.runs.startRun({
      workflow: 'local-first',
      input: 'why is the sky blue?',
      startedBy: 'U1',
      trigger: 'api',
    });
    await waitForRun(db, run.id, ['completed']);
    const [step] = await db.prisma.runStep.findMany({ where: { runId: run.id } });
    expect(step).toMatchObject({
      output: 'cloud answer',
      answeredProvider: 'openai',
      answeredModel: 'gpt-4o-mini',
    });
    expect(seen.map((s) => [s.origin, s.model, s.authorization])).toEqual([
      [OLLAMA, 'llama3.1', 'Bearer not-needed'],
      [OLLAMA, 'llama3.1', 'Bearer not-needed'],
      [OPENAI, 'gpt-4o-mini', 'Bearer sk-test-openai-endpoints'],
    ]);
    const attempts = await db.prisma.stepAttempt.findMany({
      where: { runId: run.id },
      orderBy: { number: 'asc' },
    });
    expect(attempts.map((a) => [a.provider, a.model, a.outcome, a.errorKind])).toEqual([
      ['ollama', 'llama3.1', 'error', 'server'],
      ['ollama', 'llama3.1', 'error', 'server'],
      ['openai', 'gpt-4o-mini', 'success', null],
    ]);
  });
});
