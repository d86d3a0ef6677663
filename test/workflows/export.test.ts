import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkflowDefinition } from '../../src/core/workflow-definition.js';
import { duplicateStep, removeStep, reorderStep } from '../../src/workflows/definition-edits.js';
import { loadWorkflowDir } from '../../src/workflows/loader.js';
import { exportWorkflowYaml } from '../../src/workflows/yaml-export.js';
import { fakeCatalogue } from './fixtures.js';

/** Export: a definition back into the workflow file format, which loads back identically. */

const SHIPPED = new URL('../../workflows/', import.meta.url).pathname;

async function roundTrip(definitions: readonly WorkflowDefinition[], personasDir = SHIPPED) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-roundtrip-'));
  try {
    const personas = (await loadWorkflowDir(personasDir, fakeCatalogue())).personas;
    writeFileSync(
      join(dir, 'personas.yml'),
      `personas:\n${personas.map((p) => `  - name: ${p.name}\n    system: ${JSON.stringify(p.system)}`).join('\n')}\n`,
    );
    for (const d of definitions)
      writeFileSync(join(dir, `${d.name}.yml`), exportWorkflowYaml(d, `${d.name}, exported`));
    return await loadWorkflowDir(dir, fakeCatalogue());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('exportWorkflowYaml', () => {
  it('round-trips the shipped examples through the loader unchanged', async () => {
    const shipped = await loadWorkflowDir(SHIPPED, fakeCatalogue());
    expect(shipped.errors).toEqual([]);
    const back = await roundTrip(shipped.workflows);
    expect(back.errors).toEqual([]);
    expect(back.workflows).toEqual(shipped.workflows);
  });

  it('round-trips every field: retry, timeouts, fallbacks, owners, schedules and awkward prompts', async () => {
    const definition: WorkflowDefinition = {
      name: 'everything',
      description: 'All the fields: "quotes", #hash, colons: yes',
      persona: 'tech-writer',
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      notify: 'C0ALERTS',
      owners: ['U012AB3CD', 'W0ENTERPRISE'],
      fallbacks: [{ provider: 'openai', model: 'gpt-4o-mini' }],
      retry: { maxAttempts: 4, baseMs: 250 },
      timeoutSeconds: 90,
      steps: [
        {
          name: 'one',
          prompt:
            'Line one: {{input}}\n  indented line\n\\{{literal}} and trailing spaces   \n- a list-looking line',
          fallbacks: [],
          retry: { maxAttempts: 2 },
        },
        {
          name: 'two_b',
          prompt: "It's {{date}} — {{steps.one.output}} # not a comment",
          persona: 'tech-writer',
          provider: 'google',
          model: 'gemini-2.5-pro',
          fallbacks: [
            { provider: 'openai', model: 'gpt-4o' },
            { provider: 'anthropic', model: 'claude-sonnet-4-5' },
          ],
          timeoutSeconds: 30,
        },
      ],
      schedules: [
        {
          cron: '0 9 * * 1-5',
          timezone: 'Europe/Berlin',
          channel: 'C0DIGEST',
          input: "yesterday's incidents",
          overlap: 'queue',
          missed: 'skip',
          pauseTimeoutMinutes: 0,
        },
        { cron: '@daily', channel: 'C0DIGEST', input: '', overlap: 'skip', missed: 'run_once' },
      ],
    };
    const back = await roundTrip([definition]);
    expect(back.errors.map(String)).toEqual([]);
    expect(back.workflows[0]).toEqual(JSON.parse(JSON.stringify(definition)));
  });

  it('writes the README’s snake_case keys and leaves defaults out', () => {
    const yaml = exportWorkflowYaml({
      name: 'a',
      description: '',
      owners: [],
      fallbacks: [],
      steps: [
        {
          name: 'x',
          prompt: '{{input}}',
          fallbacks: [],
          timeoutSeconds: 5,
          retry: { maxAttempts: 2, maxMs: 10 },
        },
      ],
    });
    expect(yaml).toBe(
      'name: a\nsteps:\n  - name: x\n    prompt: "{{input}}"\n    retry:\n      max_attempts: 2\n      max_ms: 10\n    timeout_seconds: 5\n',
    );
  });
});

describe('step edits on a definition', () => {
  const d: WorkflowDefinition = {
    name: 'a',
    description: '',
    owners: [],
    fallbacks: [],
    steps: ['one', 'two', 'three'].map((name) => ({ name, prompt: '{{input}}', fallbacks: [] })),
  };
  const names = (w: WorkflowDefinition) => w.steps.map((s) => s.name);

  it('moves, removes and duplicates without touching the original', () => {
    expect(names(reorderStep(d, 0, 1))).toEqual(['two', 'one', 'three']);
    expect(names(reorderStep(d, 0, -1))).toEqual(['one', 'two', 'three']);
    expect(names(removeStep(d, 1))).toEqual(['one', 'three']);
    const twice = duplicateStep(duplicateStep(d, 0), 0);
    expect(names(twice)).toEqual(['one', 'one-copy-2', 'one-copy', 'two', 'three']);
    expect(names(d)).toEqual(['one', 'two', 'three']);
    const long = { ...d, steps: [{ name: 'x'.repeat(64), prompt: 'p', fallbacks: [] }] };
    expect(duplicateStep(long, 0).steps[1]!.name.length).toBeLessThanOrEqual(64);
  });
});
