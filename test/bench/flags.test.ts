import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/children.js';

/**
 * The benches' own flags in a bad form: the bench stops at once, naming the flag, before it
 * creates a database or starts a process.
 */
function runBench(script: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('bench flags in a bad form', () => {
  it.each(['abc', '-1', '2.5', ''])('bench:slack --warm-up "%s" stops, naming the flag', async (value) => {
    const { code, stderr } = await runBench('bench/slack-scale.ts', ['--warm-up', value]);
    expect(code).toBe(1);
    expect(stderr).toContain('--warm-up takes a whole number of runs, 0 or more');
    expect(stderr).not.toContain('PostgreSQL not reachable');
  });

  it.each(['abc', '0', '-3'])('engine-cost --seconds "%s" stops, naming the flag', async (value) => {
    const { code, stderr } = await runBench('bench/engine-cost.ts', [
      '--seconds',
      value,
      '--databases',
      'embedded',
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain('--seconds takes a number of seconds above 0');
  });
});
