import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, seededDataDir, type TestDatabase, usingPostgres } from '../support/db.js';
import { type OpenAIStub, promptOf, startOpenAIStub, systemOf } from '../support/openai-stub.js';

/** The authors' CLI, run as a user would: `npm run workflow -- …` in a real process. */

const ROOT = new URL('../../', import.meta.url).pathname;
let stub: OpenAIStub;
let dir: string;
let pg: TestDatabase | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
  stub = await startOpenAIStub((request) => ({ text: `answer to: ${promptOf(request).slice(0, 30)}` }));
  if (usingPostgres) pg = await createTestDatabase();
  // The processes' embedded database, created as their first start would (without its initdb).
  else await seededDataDir(join(dir, 'data'));
});
afterAll(async () => {
  await stub?.close();
  await pg?.close();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'workflow', '--', ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        LOG_LEVEL: 'warn',
        ...(pg?.url ? { DATABASE_URL: pg.url } : { DATA_DIR: join(dir, 'data') }),
        ...env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run workflow', () => {
  it('runs release-notes against a local OpenAI-compatible server and prints each step', async () => {
    const { code, stdout, stderr } = await cli(
      ['run', 'release-notes', '--input', 'fix: crash on empty changelog (#12)'],
      {
        OPENAI_BASE_URL: stub.baseUrl,
        WORKFLOWS_DIR: join(ROOT, 'workflows'),
      },
    );
    expect(stderr).not.toContain('Error');
    expect(code).toBe(0);
    expect(stdout).toMatch(/Run #\d+ of release-notes started/);
    expect(stdout).toContain('step 1 · summarize · openai/gpt-4o-mini · persona: tech-writer');
    expect(stdout).toContain('step 2 · draft · openai/gpt-4o-mini · persona: marketing');
    expect(stdout).toContain('answer to: Summarize these changes');
    expect(stdout).toMatch(/Run #\d+ completed/);
    // The step persona (marketing) overrides the workflow persona (tech-writer) in the request.
    const draft = stub.requests.find((r) => promptOf(r).startsWith('Write release notes'));
    expect(systemOf(draft!)).toMatch(/^You write customer-facing product copy/);
    expect(promptOf(draft!)).toContain('answer to: Summarize these changes');
  }, 60_000);

  it('validate reports a broken file with its path and exits 1', async () => {
    const wf = join(dir, 'broken');
    rmSync(wf, { recursive: true, force: true });
    await import('node:fs').then((fs) => fs.mkdirSync(wf));
    writeFileSync(join(wf, 'personas.yml'), 'personas:\n  - name: tech-writer\n    system: be precise\n');
    writeFileSync(
      join(wf, 'notes.yml'),
      'name: notes\nsteps:\n  - name: a\n    prompt: "{{steps.b.output}}"\n  - name: b\n    prompt: hi\n    persona: nobody\n',
    );
    const { code, stderr } = await cli(['validate'], { WORKFLOWS_DIR: wf });
    expect(code).toBe(1);
    expect(stderr).toContain('notes.yml: steps[0].prompt');
    expect(stderr).toContain('notes.yml: steps[1].persona: unknown persona "nobody"');
  }, 60_000);

  it('validate passes on the shipped examples', async () => {
    const { code, stdout } = await cli(['validate'], { WORKFLOWS_DIR: join(ROOT, 'workflows') });
    expect(code).toBe(0);
    expect(stdout).toContain('3 workflow(s) and 4 persona(s) are valid');
  }, 60_000);

  it('functions prints the manifest block: the generic Workflow Builder step and one per workflow', async () => {
    const { code, stdout } = await cli(['functions'], { WORKFLOWS_DIR: join(ROOT, 'workflows') });
    expect(code).toBe(0);
    const { parse } = await import('yaml');
    const block = parse(stdout) as { functions: Record<string, { title: string }> };
    expect(Object.keys(block.functions)).toEqual([
      'run_workflow',
      'workflow_incident_summary',
      'workflow_pr_review_digest',
      'workflow_release_notes',
    ]);
    expect(block.functions.workflow_release_notes!.title).toBe('Switchboard: release-notes');
  }, 60_000);

  it('fails at start with a message naming a bad variable and the fix', async () => {
    const { code, stderr } = await cli(['list'], { OPENAI_BASE_URL: 'localhost:11434' });
    expect(code).toBe(1);
    expect(stderr).toContain('OPENAI_BASE_URL: must be a full URL');
  }, 60_000);

  it('names an unknown workflow and lists the known ones', async () => {
    const { code, stderr } = await cli(['run', 'relase-notes', '--input', 'x'], {
      OPENAI_BASE_URL: stub.baseUrl,
      WORKFLOWS_DIR: join(ROOT, 'workflows'),
    });
    expect(code).toBe(1);
    expect(stderr).toContain('No workflow named `relase-notes`');
    expect(stderr).toContain('release-notes');
  }, 60_000);
});
