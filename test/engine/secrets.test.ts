import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Core, createCore } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logging.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { waitForRun } from '../support/engine.js';

/**
 * Keys never reach a log line, a stored error field or a thrown message — even when a
 * provider echoes the key back in its error body. The bot runs as configured (createCore,
 * the three real SDK adapters) against a local server that quotes every credential it is
 * sent. The log is captured WITHOUT the logger's own scrubber, so what is proven is that
 * the messages themselves are clean; the scrubber is a further layer.
 */

const SECRETS = {
  OPENAI_API_KEY: 'sk-sbtest-OPENAI-7f3a9c1e5d2b',
  ANTHROPIC_API_KEY: 'anthropic-SBSECRET-42abcdef',
  GEMINI_API_KEY: 'gemini-SBSECRET-99887766',
  SLACK_BOT_TOKEN: 'xoxb-SBSECRET-bot-123456',
  SLACK_SIGNING_SECRET: 'sign-SBSECRET-567890',
  SLACK_APP_TOKEN: 'xapp-SBSECRET-app-909090',
};
const VALUES = Object.values(SECRETS);

let server: Server;
let base: string;
let dir: string;
let db: TestDatabase;
let core: Core;
const log: string[] = [];
const seenKeys = new Set<string>();

/** Answers like each provider's API does when it rejects a key — quoting what it got. */
function echoing(req: IncomingMessage, url: URL) {
  const auth = String(req.headers.authorization ?? '');
  const xKey = String(req.headers['x-api-key'] ?? '');
  const gKey = String(req.headers['x-goog-api-key'] ?? url.searchParams.get('key') ?? '');
  for (const k of [auth.replace(/^Bearer /, ''), xKey, gKey]) if (k) seenKeys.add(k);
  if (url.pathname.endsWith('/chat/completions')) {
    return {
      status: 401,
      body: {
        error: {
          message: `Incorrect API key provided: ${auth.replace(/^Bearer /, '')}. Header was "${auth}".`,
          type: 'invalid_request_error',
          code: 'invalid_api_key',
        },
      },
    };
  }
  if (url.pathname.endsWith('/messages')) {
    return {
      status: 529,
      body: { type: 'error', error: { type: 'overloaded_error', message: `Overloaded (key ${xKey})` } },
    };
  }
  return {
    status: 400,
    body: {
      error: {
        code: 400,
        status: 'INVALID_ARGUMENT',
        message: `API key not valid: ${gKey}. Please pass a valid API key. (${url.href})`,
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }],
      },
    },
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const { status, body } = echoing(req, url);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'sb-secrets-'));
  mkdirSync(join(dir, 'workflows'));
  writeFileSync(
    join(dir, 'workflows', 'leaky.yml'),
    [
      'name: leaky',
      'steps:',
      '  - name: only',
      '    prompt: "hello {{input}}"',
      '    provider: anthropic',
      '    model: claude-haiku-4-5',
      '    fallbacks: [google/gemini-2.5-flash, openai/gpt-4o-mini]',
    ].join('\n'),
  );
  const config = loadConfig({
    ...SECRETS,
    OPENAI_BASE_URL: `${base}/v1`,
    ANTHROPIC_BASE_URL: base,
    GEMINI_BASE_URL: base,
    WORKFLOWS_DIR: join(dir, 'workflows'),
    RETRY_MAX_ATTEMPTS: '2',
    RETRY_BASE_MS: '1',
    RETRY_MAX_MS: '5',
    LOG_LEVEL: 'trace',
  });
  db = await createTestDatabase();
  core = await createCore(config, {
    db,
    // No `secrets`: this capture does not scrub, so a leak in any message would show.
    logger: createLogger({ level: 'trace', destination: { write: (line) => void log.push(line) } }),
  });
  await core.engine.start();
});

afterAll(async () => {
  await core?.close();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function leaks(text: string): string[] {
  return VALUES.filter((secret) => text.includes(secret));
}

it('no configured secret appears in logs, stored errors or thrown messages, though every provider echoed its key', async () => {
  const run = await core.engine.runs.startRun({
    workflow: 'leaky',
    input: 'world',
    startedBy: 'U1',
    trigger: 'slash',
  });
  await waitForRun(db, run.id, ['paused'], 20_000);

  // Every provider really did receive (and echo) its key.
  expect([...seenKeys].sort()).toEqual(
    [SECRETS.ANTHROPIC_API_KEY, SECRETS.GEMINI_API_KEY, SECRETS.OPENAI_API_KEY].sort(),
  );
  const attempts = await db.prisma.stepAttempt.findMany({
    where: { runId: run.id },
    orderBy: { number: 'asc' },
  });
  expect(attempts.map((a) => [a.provider, a.errorKind])).toEqual([
    ['anthropic', 'overloaded'],
    ['anthropic', 'overloaded'],
    ['google', 'auth'],
    ['openai', 'auth'],
  ]);
  const step = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
  expect(step.lastErrorMessage).toContain('Incorrect API key provided');

  // Thrown messages: each adapter's error, as a caller (the CLI, Slack) would see it.
  for (const id of ['openai', 'anthropic', 'google'] as const) {
    const provider = core.providers.get(id)!;
    const model = core.catalogue.defaultModel(id);
    const error = await provider.generate({ model, prompt: 'x' }).catch((e: unknown) => e);
    const visible = [
      String(error),
      (error as Error).message,
      JSON.stringify(error),
      (error as Error).stack ?? '',
      String((error as { cause?: unknown }).cause ?? ''),
    ].join('\n');
    expect(leaks(visible), `${id} error`).toEqual([]);
  }

  // Every text column of every table.
  const tables = await db.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
  );
  for (const { tablename } of tables) {
    const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM "${tablename}" t`);
    expect(leaks(rows.map((r) => r.row).join('\n')), `table ${tablename}`).toEqual([]);
  }

  const logText = log.join('');
  expect(logText).toContain('provider call failed');
  expect(logText).toContain('step paused after failure');
  expect(leaks(logText), 'logs').toEqual([]);
}, 30_000);
