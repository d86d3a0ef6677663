import { performance } from 'node:perf_hooks';
import { chunkMrkdwn, fullOutputModal } from '../src/slack/views/full-output.js';

/**
 * `npx tsx bench/chunker.ts`: how long the full-output chunker takes on texts built to
 * make it work hardest — runs of backticks (the case that was quadratic: 200k backticks
 * took 34 s), no newlines, escapes everywhere — against plain prose of the same size.
 * Prints ms per megabyte; linear time shows as the same figure at every size.
 */

const SIZES = [100_000, 250_000, 500_000, 1_000_000];

const SHAPES: Record<string, (n: number) => string> = {
  prose: (n) => 'All the details of the release, line by line.\n'.repeat(Math.ceil(n / 47)).slice(0, n),
  backticks: (n) => '`'.repeat(n),
  'backticks + x': (n) => `x${'`'.repeat(n - 1)}`,
  'fences + newlines': (n) => '```\n'.repeat(Math.ceil(n / 4)).slice(0, n),
  'no newline, escapes': (n) => '<&>'.repeat(Math.ceil(n / 3)).slice(0, n),
};

function time(fn: () => unknown): number {
  fn(); // warm up
  const runs = 3;
  const start = performance.now();
  for (let i = 0; i < runs; i++) fn();
  return (performance.now() - start) / runs;
}

const rows: string[][] = [];
for (const [shape, make] of Object.entries(SHAPES)) {
  for (const size of SIZES) {
    const text = make(size);
    const all = time(() => chunkMrkdwn(text));
    const modal = time(() =>
      fullOutputModal({
        step: {
          id: 's',
          name: 'x',
          position: 0,
          total: 1,
          output: text,
          answeredProvider: null,
          answeredModel: null,
        },
      }),
    );
    rows.push([
      shape,
      `${size / 1000} KB`,
      `${all.toFixed(1)} ms`,
      `${((all / size) * 1e6).toFixed(0)} ms/MB`,
      `${modal.toFixed(1)} ms`,
    ]);
  }
}
const head = ['text', 'size', 'every piece', 'per MB', 'the modal (≤ 98 pieces)'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(head));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of rows) console.log(line(r));
