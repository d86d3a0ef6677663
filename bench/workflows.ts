import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAIL_MARK } from '../test/support/openai-stub.js';

/**
 * The workflows the bench runs: `bench`, three OpenAI steps chained through their outputs
 * (a typical short workflow), and `bench-pause`, one step the provider refuses, so it pauses
 * and its card offers menus to click.
 */
export const BENCH_STEPS = 3;

const BENCH = `name: bench
description: Three chained steps
provider: openai
model: gpt-4o-mini
steps:
  - name: summarize
    prompt: "Summarize:\\n{{input}}"
  - name: draft
    prompt: "Draft from:\\n{{steps.summarize.output}}"
  - name: polish
    prompt: "Polish:\\n{{previous.output}}"
`;

const PAUSE = `name: bench-pause
description: One step the provider refuses
provider: openai
model: gpt-4o-mini
steps:
  - name: refused
    prompt: "${FAIL_MARK} {{input}}"
`;

/** Live output (phase-stream.ts): one step, streamed to the person who started it. */
const STREAM = `name: bench-stream
description: One streamed step
provider: openai
model: gpt-4o-mini
steps:
  - name: write
    prompt: "{{input}}"
`;

const PERSONAS = `personas:
  - name: reviewer
    description: Careful reviewer
    system: You review carefully.
  - name: writer
    description: Plain writer
    system: You write plainly.
`;

/** A fresh WORKFLOWS_DIR holding the bench workflows. */
export function writeWorkflowsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-wf-'));
  writeFileSync(join(dir, 'bench.yml'), BENCH);
  writeFileSync(join(dir, 'bench-pause.yml'), PAUSE);
  writeFileSync(join(dir, 'bench-stream.yml'), STREAM);
  writeFileSync(join(dir, 'personas.yml'), PERSONAS);
  return dir;
}
