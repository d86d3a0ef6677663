import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Results } from '../../bench/report.js';
import { runBench } from '../../bench/run.js';
import { TEST_BOUND_MS } from '../support/children.js';
import { TEST_DATE_IMPORT, testChildEnv } from '../support/clock.js';
import { seededDataDir } from '../support/db.js';

/**
 * `npm run bench -- --quick`, shrunk: every phase runs for a moment against the real bot,
 * a bare Bolt app and the stand-ins, and the JSON has every figure. No timing is asserted:
 * this checks that the benchmark works, not how fast this machine is. With TEST_DATABASE_URL
 * set, the PostgreSQL phases (engine on PostgreSQL, 200-runs-through-Slack shrunk to 3) run too.
 */

const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-smoke-'));
const postgres = process.env.TEST_DATABASE_URL;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run bench -- --quick', () => {
  it('measures every phase and writes the results as JSON', { timeout: TEST_BOUND_MS }, async () => {
    const out = join(dir, 'results.json');
    const lines: string[] = [];
    await runBench({
      quick: true,
      latencyMs: 50,
      postgresUrl: postgres,
      out,
      log: (line) => lines.push(line),
      // The servers run on this suite's calendar, so the requests the bench signs are fresh to them.
      launch: { imports: [TEST_DATE_IMPORT], env: testChildEnv, seedDataDir: seededDataDir },
      profile: {
        ackRates: [20],
        ackRequests: 20,
        engineSizes: [2],
        steadySeconds: 1,
        slackRuns: 3,
        slackChannels: 2,
        shownTimeoutMs: 15_000,
        streamLevels: [2],
        streamTokens: 30,
      },
    });
    const results = JSON.parse(readFileSync(out, 'utf8')) as Results;

    expect(results.mode).toBe('quick');
    expect(results.machine.nproc).toBeGreaterThan(0);
    expect(results.machine.node).toMatch(/^v\d+/);

    expect(results.ack.map((a) => a.kind)).toEqual(['slash command', 'block action']);
    for (const row of results.ack) {
      expect(row.bot.n).toBeGreaterThan(0);
      expect(row.bare.n).toBeGreaterThan(0);
      expect(row.bot.p99).toBeGreaterThanOrEqual(row.bot.p50);
      expect(row.ratio).toBeGreaterThan(0);
    }

    expect(results.engine.map((e) => e.database)).toEqual(postgres ? ['embedded', 'postgres'] : ['embedded']);
    for (const row of results.engine) {
      expect(row.burstMs.n).toBe(2);
      expect(row.steadyMs.n).toBeGreaterThan(0);
      expect(Number.isFinite(row.steadyMs.p50)).toBe(true);
      expect(row.cpuMsPerStep).toBeGreaterThan(0);
      expect(row.memory.peakHeap).toBeGreaterThan(0);
    }

    if (postgres) {
      const slack = results.slack!;
      expect(slack.completedRuns).toBe(3);
      expect(slack.steps).toBe(9);
      expect(slack.calls['chat.postMessage']).toBeGreaterThan(0);
      expect(slack.callsPerStep).toBeGreaterThan(0);
      expect(slack.rateLimited).toBeGreaterThanOrEqual(0);
      expect(slack.cardDelayMs.shown).toBeGreaterThan(0);
      expect(results.memory.map((m) => m.process)).toContain('bot process, Slack phase');
    } else {
      expect(results.slack).toBeUndefined();
    }
    // (e) live output: on and off for the same load, every token found in Slack.
    const stream = results.stream!;
    expect(stream.levels.map((l) => [l.liveSteps, l.liveOutput])).toEqual([
      [2, true],
      [2, false],
    ]);
    for (const level of stream.levels) {
      expect(level.completedSteps).toBe(2);
      expect(level.tokenToSlackMs.n).toBe(60);
      expect(level.completionToCardMs.n).toBe(2);
    }
    expect(stream.levels[0]!.calls['chat.startStream']).toBe(2);
    expect(stream.levels[1]!.calls['chat.startStream']).toBeUndefined();
    expect(results.memory.length).toBeGreaterThan(0);
    expect(results.targets.map((t) => t.name).length).toBeGreaterThanOrEqual(2);
    expect(lines.join('\n')).toContain('(a) ack latency');
  });
});
