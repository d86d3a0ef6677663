import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { visibleText } from '../support/block-kit.js';
import { CHILD_LINE_BOUND_MS, TEST_BOUND_MS } from '../support/children.js';
import { TEST_DATE_IMPORT, testChildEnv } from '../support/clock.js';
import { createTestDatabase, seededDataDir, type TestDatabase, usingPostgres } from '../support/db.js';
import { waitFor } from '../support/engine.js';
import { freePort } from '../support/net.js';
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js';
import { type SlackApiStub, startSlackApiStub } from '../support/slack-api-stub.js';
import { postSigned, slashCommandBody } from '../support/slack-requests.js';

/**
 * Live output (docs/slack.md) when the bot process is SIGKILLed while a step streams: the
 * stream it left open in the thread is stopped and deleted by the process that takes the
 * step over, the step runs again and completes once, and the thread ends as always: the
 * parent and one card per step. Real bot processes (src/main.ts), the Web API stand-in and
 * a local OpenAI server that streams (the killed process's answer stalls after its first words).
 */

const ROOT = new URL('../../', import.meta.url).pathname;
const SECRET = 'killed-mid-stream-secret';
let dir: string;
let slack: SlackApiStub;
let openai: OpenAIStub;
let pg: TestDatabase | undefined;
const children: ChildProcess[] = [];
let stall: () => void = () => {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-live-kill-'));
  mkdirSync(join(dir, 'workflows'));
  writeFileSync(
    join(dir, 'workflows', 'echo.yml'),
    'name: echo\nprovider: openai\nmodel: gpt-4o-mini\nsteps:\n  - name: answer\n    prompt: "{{input}}"\n',
  );
  slack = await startSlackApiStub();
  const stalled = new Promise<void>((resolve) => {
    stall = resolve;
  });
  openai = await startOpenAIStub((_request, { path }) =>
    path.startsWith('/a/')
      ? { text: 'FIRST-PROCESS', chunks: ['FIRST-PROCESS words ', 'never sent'], pace: () => stalled }
      : { text: 'SECOND-PROCESS answer', chunks: ['SECOND-PROCESS ', 'answer'] },
  );
  if (usingPostgres) pg = await createTestDatabase();
  // The processes' embedded database, created as their first start would (without its initdb).
  else await seededDataDir(join(dir, 'data'));
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  stall();
  await slack?.close();
  await openai?.close();
  await pg?.close();
  rmSync(dir, { recursive: true, force: true });
});

function startBot(name: string, port: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', TEST_DATE_IMPORT, 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'production',
      ...testChildEnv(),
      PORT: String(port),
      WORKFLOWS_DIR: join(dir, 'workflows'),
      ...(pg?.url ? { DATABASE_URL: pg.url } : { DATA_DIR: join(dir, 'data') }),
      OPENAI_API_KEY: 'sk-test-live-kill',
      OPENAI_BASE_URL: `${openai.baseUrl.replace(/\/v1$/, '')}/${name}/v1`,
      SLACK_BOT_TOKEN: 'xoxb-test-live-kill',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.apiUrl,
      LEASE_SECONDS: '5',
      LOG_LEVEL: 'info',
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

it(
  'a process killed mid-stream: the next one closes its stream, and the step completes once',
  async () => {
    const portA = await freePort();
    const a = startBot('a', portA);
    await waitFor(
      () => a.output.out.includes('Switchboard is running'),
      CHILD_LINE_BOUND_MS,
      `bot A to start (${a.output.err})`,
    );
    const ack = await postSigned(
      `http://127.0.0.1:${portA}/slack/events`,
      slashCommandBody({
        text: 'run echo killed mid-stream',
        user: 'U0ALICE',
        channel: 'C0RUNS',
        responseUrl: slack.responseUrl('r1'),
      }),
      SECRET,
    );
    expect(ack.status).toBe(200);
    const orphan = await waitFor(
      () => [...slack.messages.values()].find((m) => m.streaming && m.text.includes('FIRST-PROCESS')),
      CHILD_LINE_BOUND_MS,
      'bot A to stream the first words',
    );
    a.child.kill('SIGKILL');
    await a.exited;
    expect(slack.openStreams()).toHaveLength(1); // what a dead process leaves behind

    const b = startBot('b', await freePort());
    await waitFor(
      () => b.output.out.includes('Switchboard is running'),
      CHILD_LINE_BOUND_MS,
      `bot B to start (${b.output.err})`,
    );
    // B takes the step over (at once on the embedded database, after the lease on PostgreSQL),
    // closes A's stream and streams its own answer, then the card holds it.
    await waitFor(
      () => {
        const cards = [...slack.messages.values()].filter((m) => m.threadTs && !m.streaming);
        return cards.some((m) => JSON.stringify(m.blocks).includes('SECOND-PROCESS answer'));
      },
      CHILD_LINE_BOUND_MS,
      `the step to complete on bot B (${b.output.err.slice(-500)})`,
    );
    await waitFor(() => slack.openStreams().length === 0, CHILD_LINE_BOUND_MS, 'no stream left open');
    expect(slack.messages.has(`${orphan.channel}:${orphan.ts}`)).toBe(false);
    expect(
      slack.callsOf('chat.stopStream').some((c) => c.body.ts === orphan.ts),
      'the orphan stream was stopped',
    ).toBe(true);

    // Thread: the parent and one card, with the second process's answer only.
    const parent = [...slack.messages.values()].find((m) => !m.threadTs)!;
    const replies = slack.thread(parent.channel, parent.ts);
    await waitFor(
      () => slack.thread(parent.channel, parent.ts).length === 1,
      CHILD_LINE_BOUND_MS,
      'one reply',
    );
    expect(replies).toHaveLength(1);
    const card = slack.thread(parent.channel, parent.ts)[0]!;
    expect(visibleText(card)).toContain('SECOND-PROCESS answer');
    expect(visibleText(card)).not.toContain('FIRST-PROCESS');
    // Run once more, by B only (A's stream began, and was cut by its death).
    expect(openai.answeredFrom('/b/')).toBe(1);
    expect(openai.answeredFrom('/a/')).toBe(1);
    expect(visibleText(card)).toContain('Completed');
    b.child.kill('SIGTERM');
    await b.exited;
  },
  TEST_BOUND_MS,
);
