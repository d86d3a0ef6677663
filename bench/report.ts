import type { Machine } from './machine.js';
import type { AckRow } from './phase-ack.js';
import type { EngineRow } from './phase-engine.js';
import type { SlackResult } from './phase-slack.js';
import type { StreamResult } from './phase-stream.js';
import { round } from './stats.js';

/** The results as one JSON document and as the table `npm run bench` prints. */

export interface Target {
  name: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface Results {
  startedAt: string;
  durationSeconds: number;
  mode: 'full' | 'quick';
  machine: Machine;
  settings: Record<string, unknown>;
  ack: AckRow[];
  engine: EngineRow[];
  slack: SlackResult | undefined;
  /** (e) live output; absent from results written before it existed. */
  stream?: StreamResult | undefined;
  memory: MemoryRow[];
  targets: Target[];
}

export interface MemoryRow {
  process: string;
  /** Runs started in the phase (the peak method divides by these). */
  activeRuns: number;
  peakRssMb: number;
  peakHeapMb: number;
  /** (peak − idle baseline) / active runs. */
  rssPerRunKb: number;
  heapPerRunKb: number;
  /** After a full GC: (in flight − idle) / runs in flight at that moment. */
  retained: { activeRuns: number; heapPerRunKb: number; rssPerRunKb: number };
}

const mb = (bytes: number) => round(bytes / 1024 ** 2);

export function memoryOf(
  process: string,
  runs: number,
  m: EngineRow['memory'],
  r: EngineRow['retained'],
): MemoryRow {
  const active = Math.max(1, r.activeRuns);
  return {
    process,
    activeRuns: runs,
    peakRssMb: mb(m.peakRss),
    peakHeapMb: mb(m.peakHeap),
    rssPerRunKb: round((m.peakRss - m.baselineRss) / 1024 / runs),
    heapPerRunKb: round((m.peakHeap - m.baselineHeap) / 1024 / runs),
    retained: {
      activeRuns: r.activeRuns,
      heapPerRunKb: round((r.busy.heapUsed - r.idle.heapUsed) / 1024 / active),
      rssPerRunKb: round((r.busy.rss - r.idle.rss) / 1024 / active),
    },
  };
}

export function targets(r: Omit<Results, 'targets'>): Target[] {
  const out: Target[] = [];
  if (r.ack.length > 0) {
    const worst = r.ack.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    out.push({
      name: 'ack p99 vs bare Bolt',
      target: '≤ 1.5×',
      measured: `worst ${worst.ratio}× (${worst.kind} @ ${worst.rate}/s)`,
      met: r.ack.every((a) => a.ratio <= 1.5 && a.bot.errors === 0),
    });
  }
  const pg50 = r.engine.find((e) => e.database === 'postgres' && e.runs === 50);
  if (pg50) {
    out.push({
      name: 'engine overhead/step, 50 runs in flight, PostgreSQL',
      target: '≤ 10 ms p50',
      measured: `${pg50.steadyMs.p50} ms p50 (${pg50.burstMs.p50} ms when all 50 start in the same instant)`,
      met: pg50.steadyMs.p50 <= 10 && pg50.steadyMs.n > 0,
    });
  }
  if (r.slack) {
    const s = r.slack;
    out.push({
      name: `Slack at ${s.runs} runs`,
      target: '0 × 429, every final card state shown ≤ 60 s',
      measured: `${s.rateLimited} × 429, ${s.cardDelayMs.shown}/${s.steps} cards final, max ${round(s.cardDelayMs.max / 1000)} s`,
      met: s.rateLimited === 0 && s.allFinalShown && s.cardDelayMs.max <= 60_000,
    });
  }
  out.push(...streamTargets(r.stream));
  const mem = r.memory;
  if (mem.length > 0) {
    out.push({
      name: 'memory per active run, (peak − idle) / runs',
      target: '≤ 100 KB (heap and RSS)',
      measured: mem
        .map((m) => `${m.activeRuns} runs: heap ${m.heapPerRunKb} KB, RSS ${m.rssPerRunKb} KB`)
        .join('; '),
      met: mem.every((m) => m.heapPerRunKb <= 100 && m.rssPerRunKb <= 100),
    });
    out.push({
      name: 'memory held per run in flight (after a full GC)',
      target: '≤ 100 KB (heap)',
      measured: mem
        .map((m) => `${m.retained.activeRuns} runs: heap ${m.retained.heapPerRunKb} KB`)
        .join('; '),
      met: mem.every((m) => m.retained.heapPerRunKb <= 100),
    });
  }
  return out;
}

/** (e) live output: text in Slack fast at 10 live steps, no 429 at 50, state changes not delayed. */
function streamTargets(stream: StreamResult | undefined): Target[] {
  if (!stream) return [];
  const out: Target[] = [];
  const at = (n: number, live: boolean) =>
    stream.levels.find((l) => l.liveSteps === n && l.liveOutput === live);
  const ten = at(10, true);
  if (ten)
    out.push({
      name: 'live text, 10 streaming steps: token leaves provider → in Slack',
      target: '≤ 1.5 s p50',
      measured: `${round(ten.tokenToSlackMs.p50 / 1000, 2)} s p50, ${round(ten.tokenToSlackMs.p99 / 1000, 2)} s p99`,
      met: ten.tokenToSlackMs.p50 <= 1500,
    });
  const top = Math.max(...stream.levels.map((l) => l.liveSteps));
  const most = at(top, true);
  if (most)
    out.push({
      name: `live output, ${top} streaming steps`,
      target: '0 × 429',
      measured: `${most.rateLimited} × 429`,
      met: most.rateLimited === 0,
    });
  for (const level of stream.levels.filter((l) => l.liveOutput)) {
    const off = at(level.liveSteps, false);
    if (!off) continue;
    out.push({
      name: `completion → final card p99, ${level.liveSteps} steps, live output on vs off`,
      target: 'no worse than off',
      measured: `${level.completionToCardMs.p99} ms vs ${off.completionToCardMs.p99} ms`,
      // The same card edit either way; allow the stand-ins' scheduling noise (10 %, 250 ms).
      met:
        level.completionToCardMs.p99 <=
        Math.max(off.completionToCardMs.p99 * 1.1, off.completionToCardMs.p99 + 250),
    });
  }
  return out;
}

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(headers),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

/** Markdown tables (they read well in a terminal and paste into BENCHMARKS.md). */
export function render(r: Results): string {
  const parts: string[] = [];
  const m = r.machine;
  parts.push(
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memoryGb} GB, Node ${m.node}, PostgreSQL ${m.postgres ?? 'n/a'} · ${r.mode} run, ${r.durationSeconds} s`,
  );
  if (r.ack.length > 0) {
    parts.push(
      table(
        [
          '(a) ack latency',
          'rate',
          'bot p50',
          'bot p99',
          'bare Bolt p50',
          'bare Bolt p99',
          'p99 ratio',
          'CPU/request bot, bare',
          'n',
        ],
        r.ack.map((a) => [
          a.kind,
          `${a.rate}/s`,
          `${a.bot.p50} ms`,
          `${a.bot.p99} ms`,
          `${a.bare.p50} ms`,
          `${a.bare.p99} ms`,
          `${a.ratio}×`,
          `${a.bot.cpuMsPerRequest}, ${a.bare.cpuMsPerRequest} ms`,
          a.bot.errors ? `${a.bot.n} (${a.bot.errors} errors)` : a.bot.n,
        ]),
      ),
    );
  }
  if (r.engine.length > 0) {
    parts.push(
      table(
        [
          '(b) engine overhead/step',
          'concurrent runs',
          'in flight: p50',
          'p99',
          'runs measured',
          'CPU/step',
          'idle CPU/s',
          'all started at once: p50',
          'p99',
          'done in',
        ],
        r.engine.map((e) => [
          e.database,
          e.runs,
          `${e.steadyMs.p50} ms`,
          `${e.steadyMs.p99} ms`,
          e.steadyMs.n,
          `${e.cpuMsPerStep} ms`,
          `${e.idleCpuMsPerSecond} ms`,
          `${e.burstMs.p50} ms`,
          `${e.burstMs.p99} ms`,
          `${round(e.wallMs / 1000)} s (${e.burstMs.n}/${e.runs})`,
        ]),
      ),
    );
  }
  if (r.slack) {
    const s = r.slack;
    parts.push(
      table(
        ['(c) Slack', 'value'],
        [
          ['runs / channels', `${s.runs} / ${s.channels} (${s.completedRuns} completed, ${s.steps} steps)`],
          [
            'chat calls per step',
            `${s.callsPerStep} (${Object.entries(s.calls)
              .filter(([, v]) => v)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')})`,
          ],
          [
            '429s received',
            `${s.rateLimited}${
              s.rateLimited
                ? ` (${Object.entries(s.rateLimitedBy)
                    .filter(([, v]) => v)
                    .map(([k, v]) => `${k} ${v}`)
                    .join(', ')})`
                : ''
            }`,
          ],
          [
            'completion → card shows it',
            `p50 ${s.cardDelayMs.p50} ms, p99 ${s.cardDelayMs.p99} ms, max ${s.cardDelayMs.max} ms`,
          ],
          [
            "Slack's floor for this load (floor.ts)",
            `${round(s.floor.ms / 1000)} s (${s.floor.busiestChannelMessages} messages in the busiest channel); p99 ${s.ratioToFloor.p99}×, max ${s.ratioToFloor.max}× the floor`,
          ],
          ['cards showing final state', `${s.cardDelayMs.shown}/${s.steps}`],
          [
            'run end → parent shows it',
            `p50 ${s.parentDelayMs.p50} ms, p99 ${s.parentDelayMs.p99} ms (${s.parentDelayMs.shown}/${s.runs})`,
          ],
          [
            'every final state shown',
            s.allFinalShown
              ? `yes, ${round((s.finalShownAfterMs ?? 0) / 1000)} s after the last step`
              : 'no (bound reached)',
          ],
        ],
      ),
    );
  }
  if (r.stream) {
    const st = r.stream;
    parts.push(
      table(
        [
          `(e) live output, ${st.tokensPerSecond} tokens/s, ${st.tokensPerAnswer} per answer`,
          'live',
          'token → Slack p50',
          'p99',
          'shown live',
          'calls/step',
          '429s',
          'completion → card p99',
        ],
        st.levels.map((l) => [
          `${l.liveSteps} steps (${l.completedSteps} done)`,
          l.liveOutput ? 'on' : 'off',
          `${l.tokenToSlackMs.p50} ms`,
          `${l.tokenToSlackMs.p99} ms`,
          `${round(l.shownLiveShare * 100, 0)} %`,
          l.callsPerStep,
          l.rateLimited,
          `${l.completionToCardMs.p99} ms`,
        ]),
      ),
    );
  }
  if (r.memory.length > 0) {
    parts.push(
      table(
        [
          '(d) memory',
          'runs',
          'peak RSS',
          'peak heap',
          '(peak−idle)/run RSS',
          'heap',
          'held per run in flight (after GC): runs',
          'RSS',
          'heap',
        ],
        r.memory.map((v) => [
          v.process,
          v.activeRuns,
          `${v.peakRssMb} MB`,
          `${v.peakHeapMb} MB`,
          `${v.rssPerRunKb} KB`,
          `${v.heapPerRunKb} KB`,
          v.retained.activeRuns,
          `${v.retained.rssPerRunKb} KB`,
          `${v.retained.heapPerRunKb} KB`,
        ]),
      ),
    );
  }
  parts.push(
    table(
      ['target', 'goal', 'measured', 'met'],
      r.targets.map((t) => [t.name, t.target, t.measured, t.met ? 'yes' : 'NO']),
    ),
  );
  return parts.join('\n\n');
}
