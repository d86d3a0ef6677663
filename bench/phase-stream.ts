import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promptOf, startOpenAIStub } from '../test/support/openai-stub.js';
import { slackLimits } from '../test/support/slack-api-limits.js';
import { startSlackApiStub } from '../test/support/slack-api-stub.js';
import { SIGNING_SECRET, signedHeaders, slashCommandBody } from '../test/support/slack-requests.js';
import { type ServerLaunch, startServer } from './bot-process.js';
import { round, sleep, summarize, waitUntil } from './stats.js';

/**
 * (e) Live output: N one-step runs started at once by one person (so every step streams to
 * them), on the real bot against the Slack stand-in with Slack's rate limits (including
 * chat.startStream/appendStream/stopStream) and an OpenAI-compatible stand-in that streams
 * every answer at `tokensPerSecond`. Each token is unique; the provider stand-in notes when
 * it sent it, the Slack stand-in when a message first showed it (a stream's append, or a
 * card): token-leaves-provider → text-in-Slack latency. Also Slack calls per step, 429s,
 * and the delay from the last token (the step completes right after) to the card showing
 * Completed, with live output on and, for the same load, off (LIVE_OUTPUT=false).
 */

export interface StreamLevel {
  liveSteps: number;
  liveOutput: boolean;
  completedSteps: number;
  /** Token sent by the provider → first shown in Slack (live text or the final card), ms. */
  tokenToSlackMs: { n: number; p50: number; p99: number; max: number };
  /** Tokens first shown by the live text (not only by the final card), of all tokens. */
  shownLiveShare: number;
  callsPerStep: number;
  calls: Record<string, number>;
  rateLimited: number;
  rateLimitedBy: Record<string, number>;
  /** Last token sent → the card first showing Completed, ms. */
  completionToCardMs: { n: number; p50: number; p99: number; max: number };
}

export interface StreamResult {
  tokensPerSecond: number;
  tokensPerAnswer: number;
  levels: StreamLevel[];
}

const USER = 'U0BENCHSTREAM';

export async function streamPhase(o: {
  levels: number[];
  tokensPerSecond: number;
  tokensPerAnswer: number;
  workflowsDir: string;
  timeoutMs: number;
  launch?: ServerLaunch | undefined;
  log: (line: string) => void;
  /** Live output on, then off for the same load (default both). */
  modes?: boolean[];
}): Promise<StreamResult> {
  const levels: StreamLevel[] = [];
  for (const liveSteps of o.levels) {
    for (const liveOutput of o.modes ?? [true, false]) {
      levels.push(await level({ ...o, liveSteps, liveOutput }));
    }
  }
  return { tokensPerSecond: o.tokensPerSecond, tokensPerAnswer: o.tokensPerAnswer, levels };
}

async function level(o: {
  liveSteps: number;
  liveOutput: boolean;
  tokensPerSecond: number;
  tokensPerAnswer: number;
  workflowsDir: string;
  timeoutMs: number;
  launch?: ServerLaunch | undefined;
  log: (line: string) => void;
}): Promise<StreamLevel> {
  const sentAt = new Map<string, number>();
  const lastToken = new Map<string, number>();
  const gap = 1000 / o.tokensPerSecond;
  const openai = await startOpenAIStub((request) => {
    const id = /stream (\d+)/.exec(promptOf(request))?.[1] ?? 'x';
    const tokens = Array.from({ length: o.tokensPerAnswer }, (_, i) => `k${id}x${i} `);
    if (request.stream !== true) {
      // LIVE_OUTPUT=false: the same answer in the same time, in one piece at the end.
      const delayMs = Math.round(o.tokensPerAnswer * gap);
      const doneAt = Date.now() + delayMs;
      for (const token of tokens) sentAt.set(token, doneAt);
      lastToken.set(id, doneAt);
      return { text: tokens.join(''), delayMs };
    }
    let next = Date.now();
    // The first token goes out at once (pace is asked before each later one).
    sentAt.set(tokens[0]!, next);
    return {
      text: tokens.join(''),
      chunks: tokens,
      pace: async (i) => {
        // A steady rate from the first token, whatever the event loop's hiccups.
        next += gap;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        sentAt.set(tokens[i]!, Date.now());
        if (i === tokens.length - 1) lastToken.set(id, Date.now());
      },
    };
  });
  const standin = await startSlackApiStub({ limits: slackLimits() });
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-bench-stream-'));
  await o.launch?.seedDataDir?.(dataDir);
  const bot = await startServer({
    entry: 'src/main.ts',
    ready: 'Switchboard is running',
    launch: o.launch,
    env: {
      // "Switchboard is running" is logged at info.
      LOG_LEVEL: 'info',
      WORKFLOWS_DIR: o.workflowsDir,
      DATA_DIR: dataDir,
      OPENAI_API_KEY: 'sk-bench-0000000000',
      OPENAI_BASE_URL: openai.baseUrl,
      SLACK_BOT_TOKEN: 'xoxb-bench-0000',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: standin.apiUrl,
      WORKER_CONCURRENCY: String(Math.max(4, o.liveSteps)),
      MAX_RUNS_IN_FLIGHT_PER_USER: '0',
      LIVE_OUTPUT: String(o.liveOutput),
      STEP_TIMEOUT_SECONDS: '600',
    },
  });
  try {
    standin.meet(USER);
    await Promise.all(
      Array.from({ length: o.liveSteps }, async (_, i) => {
        const body = slashCommandBody({
          text: `run bench-stream stream ${i}`,
          user: USER,
          channel: `C0STREAM${String(i % 10).padStart(2, '0')}`,
          responseUrl: standin.responseUrl(`stream-${i}`),
        });
        await fetch(bot.eventsUrl, { method: 'POST', body, headers: signedHeaders(body) });
      }),
    );
    // Done: every card shows Completed.
    const completedCards = () =>
      [...standin.messages.values()].filter(
        (m) => m.threadTs && m.streaming === undefined && JSON.stringify(m.blocks).includes('Completed'),
      ).length;
    await waitUntil(
      () => completedCards() >= o.liveSteps && standin.openStreams().length === 0,
      o.timeoutMs,
      500,
    );
    await sleep(1000);

    // Where each token was first shown: every state of every message (live streams and cards).
    const firstShown = new Map<string, { at: number; live: boolean }>();
    const cardDone = new Map<string, number>();
    for (const message of standin.messages.values()) {
      const live = message.streaming !== undefined;
      let done = false;
      for (const state of message.states) {
        const text = live ? state.text : JSON.stringify(state.blocks);
        for (const token of text.match(/k\d+x\d+/g) ?? []) {
          const seen = firstShown.get(token);
          if (!seen || seen.at > state.at) firstShown.set(token, { at: state.at, live });
        }
        if (!live && !done && message.threadTs && text.includes('Completed')) {
          done = true;
          const id = /k(\d+)x/.exec(text)?.[1];
          if (id) cardDone.set(id, state.at);
        }
      }
    }
    // Deleted streams are gone from `messages`: their appends are in the calls.
    for (const call of standin.calls) {
      if (call.method !== 'chat.appendStream' && call.method !== 'chat.startStream') continue;
      const text = JSON.stringify(call.body);
      for (const token of text.match(/k\d+x\d+/g) ?? []) {
        const seen = firstShown.get(token);
        if (!seen || seen.at > call.at) firstShown.set(token, { at: call.at, live: true });
      }
    }
    const latencies: number[] = [];
    let live = 0;
    for (const [token, at] of sentAt) {
      const shown = firstShown.get(token.trim());
      if (!shown) continue;
      latencies.push(Math.max(0, shown.at - at));
      if (shown.live) live += 1;
    }
    const completion: number[] = [];
    for (const [id, at] of lastToken) {
      const shown = cardDone.get(id);
      if (shown !== undefined) completion.push(Math.max(0, shown - at));
    }
    const counts = standin.counts();
    const calls = Object.values(counts.calls).reduce((a, b) => a + b, 0);
    const result: StreamLevel = {
      liveSteps: o.liveSteps,
      liveOutput: o.liveOutput,
      completedSteps: completedCards(),
      tokenToSlackMs: summarize(latencies),
      shownLiveShare: round(latencies.length ? live / latencies.length : 0, 3),
      callsPerStep: round(calls / o.liveSteps, 1),
      calls: counts.calls,
      rateLimited: Object.values(counts.rateLimited).reduce((a, b) => a + b, 0),
      rateLimitedBy: counts.rateLimited,
      completionToCardMs: summarize(completion),
    };
    o.log(
      `  stream: ${o.liveSteps} live steps, live output ${o.liveOutput ? 'on' : 'off'}: token→Slack p50 ${result.tokenToSlackMs.p50} ms p99 ${result.tokenToSlackMs.p99} ms, ${result.callsPerStep} calls/step, ${result.rateLimited}×429 ${JSON.stringify(result.rateLimitedBy)}, completion→card p99 ${result.completionToCardMs.p99} ms; calls ${JSON.stringify(result.calls)}`,
    );
    return result;
  } finally {
    await bot.stop().catch(() => {});
    await standin.close();
    await openai.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
