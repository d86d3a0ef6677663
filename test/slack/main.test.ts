import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { visibleText } from '../support/block-kit.js';
import { CHILD_LINE_BOUND_MS, TEST_BOUND_MS } from '../support/children.js';
import { TEST_DATE_IMPORT, testChildEnv } from '../support/clock.js';
import { createTestDatabase, seededDataDir, type TestDatabase, usingPostgres } from '../support/db.js';
import { waitFor } from '../support/engine.js';
import { freePort } from '../support/net.js';
import { type OpenAIStub, promptOf, startOpenAIStub } from '../support/openai-stub.js';
import { type SlackApiStub, startSlackApiStub } from '../support/slack-api-stub.js';
import { postSigned, slashCommandBody, slashCommandPayload } from '../support/slack-requests.js';

/**
 * `npm start` as a real process (node --import tsx src/main.ts, as the Dockerfile runs it):
 * refuses to start without Slack tokens, serves Slack on PORT or over Socket Mode, and on
 * SIGTERM lets the running step finish, sends the last card updates and exits 0.
 */

const ROOT = new URL('../../', import.meta.url).pathname;
const SECRET = 'main-test-signing-secret';
let dir: string;
let slack: SlackApiStub;
let openai: OpenAIStub;
let pg: TestDatabase | undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-main-'));
  mkdirSync(join(dir, 'workflows'));
  writeFileSync(
    join(dir, 'workflows', 'echo.yml'),
    'name: echo\nprovider: openai\nmodel: gpt-4o-mini\nsteps:\n  - name: answer\n    prompt: "{{input}}"\n',
  );
  slack = await startSlackApiStub();
  openai = await startOpenAIStub((request) => ({ text: `echo: ${promptOf(request)}`, delayMs: 1500 }));
  if (usingPostgres) pg = await createTestDatabase();
  // The first start below (over HTTP) creates its database as a new user's does; the later
  // ones start on a folder holding one already, sparing each an initdb.
  else for (const folder of ['data-refused', 'data-socket']) await seededDataDir(join(dir, folder));
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await slack?.close();
  await openai?.close();
  await pg?.close();
  rmSync(dir, { recursive: true, force: true });
});

function start(env: Record<string, string>) {
  // As the Dockerfile starts it, plus the suite's calendar (so its signed requests are fresh).
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', TEST_DATE_IMPORT, 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'production',
      ...testChildEnv(),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output = { out: '', err: '' };
  child.stdout?.on('data', (d: Buffer) => {
    output.out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output.err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output, exited };
}

describe('npm start', { timeout: TEST_BOUND_MS }, () => {
  it('refuses to start without Slack tokens and says which to set', async () => {
    const { output, exited } = start({
      WORKFLOWS_DIR: join(dir, 'workflows'),
      DATA_DIR: join(dir, 'unused'),
    });
    expect(await exited).toBe(1);
    expect(output.err).toContain('SLACK_BOT_TOKEN');
    expect(output.err).toContain('SLACK_SIGNING_SECRET');
    expect(output.err).toContain('SLACK_APP_TOKEN');
  });

  it('refuses a malformed token with the variable and the fix', async () => {
    const { output, exited } = start({ SLACK_BOT_TOKEN: 'xoxp-user-token', SLACK_SIGNING_SECRET: SECRET });
    expect(await exited).toBe(1);
    expect(output.err).toContain('SLACK_BOT_TOKEN: must be a bot token starting with xoxb-');
  });

  it('serves /workflow over HTTP and, on SIGTERM, finishes the running step before exiting 0', async () => {
    const port = await freePort();
    const bot = start({
      PORT: String(port),
      WORKFLOWS_DIR: join(dir, 'workflows'),
      ...(pg?.url ? { DATABASE_URL: pg.url } : { DATA_DIR: join(dir, 'data') }),
      OPENAI_API_KEY: 'sk-test-main',
      OPENAI_BASE_URL: openai.baseUrl,
      SLACK_BOT_TOKEN: 'xoxb-test-main',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.apiUrl,
      LOG_LEVEL: 'info',
    });
    await waitFor(
      () => bot.output.out.includes('Switchboard is running'),
      CHILD_LINE_BOUND_MS,
      `the bot to start (${bot.output.err})`,
    );
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);

    const ack = await postSigned(
      `http://127.0.0.1:${port}/slack/events`,
      slashCommandBody({
        text: 'run echo graceful',
        user: 'U0ALICE',
        channel: 'C0RUNS',
        responseUrl: slack.responseUrl('r1'),
      }),
      SECRET,
    );
    expect(ack.status).toBe(200);
    // The provider holds its answer for 1.5 s: stop the bot while the step runs.
    await waitFor(() => openai.requests.length > 0, CHILD_LINE_BOUND_MS, 'the provider call');
    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);

    expect(bot.output.out).toContain('shutting down');
    expect(bot.output.out).toContain('"msg":"stopped"');
    // The step finished during the grace period and its card says so.
    const cards = [...slack.messages.values()].filter((m) => m.threadTs);
    expect(cards).toHaveLength(1);
    expect(visibleText(cards[0]!)).toContain('echo: graceful');
    expect(visibleText(cards[0]!)).toContain('Completed');
    // No secret reached the logs.
    expect(bot.output.out + bot.output.err).not.toContain('xoxb-test-main');
    expect(bot.output.out + bot.output.err).not.toContain(SECRET);
  });

  it('refuses to start when Slack refuses SLACK_APP_TOKEN, and says which token', async () => {
    slack.override('apps.connections.open', { kind: 'error', error: 'invalid_auth' });
    const bot = start({
      PORT: String(await freePort()),
      WORKFLOWS_DIR: join(dir, 'workflows'),
      DATA_DIR: join(dir, 'data-refused'),
      SLACK_BOT_TOKEN: 'xoxb-test-main',
      SLACK_APP_TOKEN: 'xapp-1-test-main-revoked',
      SLACK_API_URL: slack.apiUrl,
      LOG_LEVEL: 'info',
    });
    expect(await bot.exited).toBe(1);
    const said = bot.output.out + bot.output.err;
    expect(said).toContain('Slack refused SLACK_APP_TOKEN (invalid_auth)');
    expect(said).not.toContain('SLACK_BOT_TOKEN');
    expect(said).not.toContain('xapp-1-test-main-revoked');
  });

  it('serves /workflow over Socket Mode through SLACK_API_URL, with health on PORT', async () => {
    const port = await freePort();
    const connectionsBefore = slack.socket.connections.length;
    const bot = start({
      PORT: String(port),
      WORKFLOWS_DIR: join(dir, 'workflows'),
      ...(pg?.url ? { DATABASE_URL: pg.url } : { DATA_DIR: join(dir, 'data-socket') }),
      OPENAI_API_KEY: 'sk-test-main',
      OPENAI_BASE_URL: openai.baseUrl,
      SLACK_BOT_TOKEN: 'xoxb-test-main',
      SLACK_APP_TOKEN: 'xapp-1-test-main',
      SLACK_API_URL: slack.apiUrl,
      LOG_LEVEL: 'info',
    });
    await waitFor(
      () => bot.output.out.includes('Switchboard is running'),
      CHILD_LINE_BOUND_MS,
      `the bot to start (${bot.output.err})`,
    );
    expect(bot.output.out).toContain('"mode":"socket"');
    const connection = await slack.socket.connected(CHILD_LINE_BOUND_MS);
    expect(slack.socket.connections.length).toBe(connectionsBefore + 1);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST' })).status).toBe(404);

    const command = slack.socket.deliver(
      'slash_commands',
      slashCommandPayload({
        text: 'run echo over the socket',
        user: 'U0ALICE',
        channel: 'C0SOCKET',
        responseUrl: slack.responseUrl('socket'),
      }),
    );
    expect((await slack.socket.ackOf(command, CHILD_LINE_BOUND_MS)).connection).toBe(connection.id);
    const card = await waitFor(
      () =>
        slack
          .messagesIn('C0SOCKET')
          .find((m) => m.threadTs && visibleText(m).includes('echo: over the socket')),
      CHILD_LINE_BOUND_MS,
      'the completed card',
    );
    expect(visibleText(card)).toContain('Completed');

    bot.child.kill('SIGTERM');
    expect(await bot.exited).toBe(0);
    // The bot closed its connection on the way out, normally.
    const closed = await waitFor(() => connection.closeCode, 10_000, 'the connection to close');
    expect(closed).toBe(1000);
    expect(bot.output.out + bot.output.err).not.toContain('xapp-1-test-main');
  });
});
