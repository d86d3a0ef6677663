import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkflowDefinition } from '../../src/core/workflow-definition.js';
import { loadWorkflowDir } from '../../src/workflows/loader.js';
import { exportWorkflowYaml } from '../../src/workflows/yaml-export.js';
import { fakeCatalogue, PERSONAS_YML, workflowDir, workflowYml } from './fixtures.js';

/** `approval:` on a step and `budget:` on a workflow (docs/control.md), from files. */

async function load(files: Record<string, string>) {
  const dir = workflowDir(files, true);
  const result = await loadWorkflowDir(dir, fakeCatalogue());
  return { ...result, problems: result.errors.map((e) => e.toString().replace(`${dir}/`, '')) };
}

const withOwners = (extra: string, top = '') =>
  workflowYml('a', extra).replace('steps:\n', `owners: [U0OWNER]\n${top}steps:\n`);

describe('approval and budget in a workflow file', () => {
  it('load into the definition with their defaults', async () => {
    const { workflows, problems } = await load({
      'a.yml': withOwners(
        '    approval:\n      users: [U0ALICE]\n      usergroup: S0REVIEW\n      starter: true\n      owners: true\n      timeout_minutes: 60\n',
        'budget: { per_run_usd: 0.5, per_day_usd: 20 }\n',
      ),
    });
    expect(problems).toEqual([]);
    const def = workflows[0]!;
    expect(def.budget).toEqual({ perRunUsd: 0.5, perDayUsd: 20 });
    expect(def.steps[1]!.approval).toEqual({
      users: ['U0ALICE'],
      usergroup: 'S0REVIEW',
      starter: true,
      owners: true,
      timeoutMinutes: 60,
      onTimeout: 'escalate',
    });
    expect(def.steps[0]!.approval).toBeUndefined();
  });

  it('round-trip through /workflow export unchanged', async () => {
    const { workflows } = await load({
      'a.yml': withOwners(
        '    approval: { usergroup: S0REVIEW, timeout_minutes: 5, on_timeout: fail }\n',
        'budget: { per_day_usd: 3.25 }\n',
      ),
    });
    const definition: WorkflowDefinition = workflows[0]!;
    const yaml = exportWorkflowYaml(definition);
    expect(yaml).toContain(
      'approval:\n      usergroup: S0REVIEW\n      timeout_minutes: 5\n      on_timeout: fail',
    );
    expect(yaml).toContain('budget:\n  per_day_usd: 3.25');
    const dir = mkdtempSync(join(tmpdir(), 'sb-control-'));
    try {
      writeFileSync(join(dir, 'personas.yml'), PERSONAS_YML);
      writeFileSync(join(dir, 'a.yml'), yaml);
      const back = await loadWorkflowDir(dir, fakeCatalogue());
      expect(back.errors.map(String)).toEqual([]);
      expect(back.workflows[0]).toEqual(definition);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad approval settings get precise errors and the workflow is left out', async () => {
    const { problems, workflows } = await load({
      'a.yml': workflowYml(
        'a',
        '    approval: { timeout_minutes: 0, on_timeout: later, users: [bob], groupe: S1 }\n',
      ),
      'b.yml': workflowYml('b', '    approval: {}\n'),
      'c.yml': workflowYml('c', '    approval: { owners: true }\n'),
      'd.yml': workflowYml('d', '    approval: { starter: yes, on_timeout: fail }\n'),
      'e.yml': workflowYml('e', '    approval: { usergroup: "@reviewers", starter: true }\n'),
      'f.yml': workflowYml('f', '    approval: true\n'),
    });
    expect(workflows).toEqual([]);
    expect(problems).toEqual([
      'a.yml: steps[1].approval.users[0]: must be a Slack user id, e.g. U012AB3CD',
      'a.yml: steps[1].approval.timeout_minutes: must be a whole number from 1 to 43200 (minutes the output waits for approval)',
      'a.yml: steps[1].approval.on_timeout: must be fail or escalate',
      'a.yml: steps[1].approval.groupe: unknown field "groupe" (allowed: users, usergroup, starter, owners, timeout_minutes, on_timeout)',
      'b.yml: steps[1].approval: names no approver: set users, usergroup, starter: true or owners: true',
      'c.yml: steps[1].approval.owners: is true, but the workflow lists no owners: add owners: [U012AB3CD] or name other approvers',
      'd.yml: steps[1].approval.starter: must be true or false',
      'e.yml: steps[1].approval.usergroup: must be a Slack user group id such as S0REVIEWERS (a @handle can be renamed)',
      'f.yml: steps[1].approval: must be a mapping of users, usergroup, starter, owners, timeout_minutes, on_timeout',
    ]);
  });

  it('on_timeout without timeout_minutes says what is missing', async () => {
    const { problems } = await load({
      'a.yml': workflowYml('a', '    approval: { starter: true, on_timeout: fail }\n'),
    });
    expect(problems).toEqual([
      'a.yml: steps[1].approval.on_timeout: needs timeout_minutes (how long the output waits before it)',
    ]);
  });

  it('bad budgets get precise errors', async () => {
    const top = (budget: string) => workflowYml('a').replace('steps:\n', `budget: ${budget}\nsteps:\n`);
    const cases: [string, string][] = [
      ['{}', 'a.yml: budget: set per_run_usd, per_day_usd or both'],
      ['{ per_run_usd: 0 }', 'a.yml: budget.per_run_usd: must be more than 0 (the most one run may spend)'],
      [
        '{ per_day_usd: "$5" }',
        'a.yml: budget.per_day_usd: must be an amount in US dollars, e.g. 0.50 (the most all its runs may spend in a UTC day)',
      ],
      [
        '{ per_run: 1 }',
        'a.yml: budget.per_run: unknown field "per_run" — did you mean "per_run_usd"? (allowed: per_run_usd, per_day_usd)',
      ],
      ['5', 'a.yml: budget: must be a mapping of per_run_usd, per_day_usd'],
      ['{ per_run_usd: -1 }', 'a.yml: budget.per_run_usd: must be more than 0 (the most one run may spend)'],
    ];
    for (const [budget, message] of cases) {
      const { problems, workflows } = await load({ 'a.yml': top(budget) });
      expect(workflows, budget).toEqual([]);
      expect(problems[0], budget).toEqual(message);
    }
  });
});
