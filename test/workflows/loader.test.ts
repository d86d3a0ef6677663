import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildCatalogue } from '../../src/providers/catalogue.js';
import { WorkflowFileError, WorkflowValidationError } from '../../src/workflows/definition-error.js';
import { loadWorkflowDir, loadWorkflowDirOrThrow } from '../../src/workflows/loader.js';
import { fakeCatalogue, PERSONAS_YML, workflowDir, workflowYml } from './fixtures.js';

const EXAMPLES = new URL('../../workflows/', import.meta.url).pathname;

/** Loads `files` from a fresh folder; problems read "file: path: message" relative to it. */
async function load(files: Record<string, string>, withPersonas = true) {
  const dir = workflowDir(files, withPersonas);
  const result = await loadWorkflowDir(dir, fakeCatalogue());
  return { ...result, dir, problems: result.errors.map((e) => e.toString().replace(`${dir}/`, '')) };
}

describe('the shipped examples', () => {
  it('load cleanly with their personas', async () => {
    const result = await loadWorkflowDir(EXAMPLES, fakeCatalogue());
    expect(result.errors.map(String)).toEqual([]);
    expect(result.workflows.map((w) => w.name).sort()).toEqual([
      'incident-summary',
      'pr-review-digest',
      'release-notes',
    ]);
    expect(result.personas.map((p) => p.name)).toEqual(['tech-writer', 'marketing', 'sre', 'reviewer']);
  });

  it('load even when no provider has credentials (the engine reports that at run time)', async () => {
    const result = await loadWorkflowDir(EXAMPLES, fakeCatalogue([]));
    expect(result.errors).toEqual([]);
    expect(result.workflows).toHaveLength(3);
  });

  it('release-notes reads as the issue specifies, converted to the definition types', async () => {
    const { workflows } = await loadWorkflowDir(EXAMPLES, fakeCatalogue());
    const notes = workflows.find((w) => w.name === 'release-notes')!;
    expect(notes).toMatchObject({
      persona: 'tech-writer',
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      notify: 'C0ALERTS',
      owners: [],
      fallbacks: [],
    });
    expect(notes.steps[1]).toMatchObject({
      name: 'draft',
      persona: 'marketing',
      provider: 'openai',
      model: 'gpt-4o-mini',
      fallbacks: [
        { provider: 'google', model: 'gemini-2.5-flash' },
        { provider: 'anthropic', model: 'claude-haiku-4-5' },
      ],
      retry: { maxAttempts: 4 },
    });
  });

  it('incident-summary converts the retry object and infers the provider of a bare model', async () => {
    const { workflows } = await loadWorkflowDir(EXAMPLES, fakeCatalogue());
    const incident = workflows.find((w) => w.name === 'incident-summary')!;
    expect(incident.retry).toEqual({ maxAttempts: 4, baseMs: 2000, maxMs: 30000 });
    expect(incident.timeoutSeconds).toBe(180);
    expect(incident.steps[2]).toMatchObject({
      provider: 'anthropic',
      model: 'claude-opus-4-1',
      timeoutSeconds: 300,
    });
  });
});

describe('a broken file is reported with its file, the path inside it and what is wrong', () => {
  it('bad YAML gives the line and column', async () => {
    const { problems, errors } = await load({
      'release-notes.yml': 'name: release-notes\nsteps: [\n  - name: a\n',
    });
    expect(problems[0]).toBe(
      'release-notes.yml: YAML syntax error at line 3, column 3: Block collections are not allowed within flow collections',
    );
    for (const p of problems)
      expect(p).toMatch(/^release-notes\.yml: YAML syntax error at line \d+, column \d+: /);
    expect(errors[0]).toBeInstanceOf(WorkflowFileError);
    expect(errors[0]!.line).toBe(3);
  });

  it('a duplicate key is a YAML error on its line', async () => {
    const { problems } = await load({ 'a.yml': `${workflowYml('a')}name: again\n` });
    expect(problems).toEqual([
      expect.stringMatching(/^a\.yml: YAML syntax error at line 11, column 1: Map keys must be unique/),
    ]);
  });

  it('an unknown step persona names the known ones', async () => {
    const { problems, errors } = await load({
      'release-notes.yml': workflowYml('release-notes', '    persona: markting\n'),
    });
    expect(problems).toEqual([
      'release-notes.yml: steps[1].persona: unknown persona "markting" (known: tech-writer, marketing)',
    ]);
    expect(errors[0]).toMatchObject({ path: 'steps[1].persona', line: 11 });
  });

  it('an unknown workflow persona is reported too', async () => {
    const { problems } = await load({
      'a.yml': workflowYml('a').replace('persona: tech-writer', 'persona: sre'),
    });
    expect(problems).toEqual(['a.yml: persona: unknown persona "sre" (known: tech-writer, marketing)']);
  });

  it('a persona without personas.yml says the file is missing', async () => {
    const { problems } = await load({ 'a.yml': workflowYml('a') }, false);
    expect(problems).toEqual([
      'a.yml: persona: unknown persona "tech-writer" (no personas.yml in the workflows folder)',
    ]);
  });

  it.each([
    ['workflow', workflowYml('a').replace('provider: anthropic', 'provider: openia'), 'provider'],
    ['step', workflowYml('a', '    provider: azure\n'), 'steps[1].provider'],
  ])('an unknown %s provider lists the known ones', async (_level, yml, path) => {
    const { problems } = await load({ 'a.yml': yml });
    expect(problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `^a\\.yml: ${path.replace(/[[\]]/g, '\\$&')}: unknown provider "(openia|azure)" \\(known: openai, anthropic, google\\)$`,
        ),
      ),
    ]);
  });

  it('an unknown model names the provider’s known models', async () => {
    const { problems } = await load({
      'a.yml': workflowYml('a', '    provider: openai\n    model: gpt-5-turbo\n'),
    });
    expect(problems).toEqual([
      'a.yml: steps[1].model: unknown model "gpt-5-turbo" for openai (known: gpt-4o-mini, gpt-4o, gpt-4.1, gpt-4.1-mini, o4-mini)',
    ]);
  });

  it('a model of another provider is unknown for the named one', async () => {
    const { problems } = await load({
      'a.yml': workflowYml('a', '    provider: google\n    model: gpt-4o\n'),
    });
    expect(problems).toEqual([expect.stringContaining('steps[1].model: unknown model "gpt-4o" for google')]);
  });

  it('a model no provider serves, without a provider, asks for the provider', async () => {
    const { problems } = await load({ 'a.yml': workflowYml('a', '    model: llama3\n') });
    expect(problems).toEqual([
      'a.yml: steps[1].model: cannot tell which provider serves model "llama3" — add provider: openai, anthropic or google',
    ]);
  });

  it('a bare model is checked against the provider it is inferred for', async () => {
    const byPrefix = {
      ...fakeCatalogue(),
      inferProvider: (m: string) => (m.startsWith('gpt-') ? ('openai' as const) : undefined),
    };
    const dir = workflowDir({ 'a.yml': workflowYml('a', '    model: gpt-5-turbo\n') });
    const { errors } = await loadWorkflowDir(dir, byPrefix);
    expect(errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'steps[1].model: unknown model "gpt-5-turbo" for openai (known: gpt-4o-mini, gpt-4o, gpt-4.1, gpt-4.1-mini, o4-mini)',
    ]);
  });

  it('fallbacks must be known "provider/model" pairs', async () => {
    const { problems } = await load({
      'a.yml': workflowYml('a', '    fallbacks: [gpt-4o, google/gemini-2.5-pro]\n'),
    });
    expect(problems).toEqual([
      'a.yml: steps[1].fallbacks[0]: "gpt-4o" must be "provider/model", e.g. "google/gemini-2.5-flash"',
    ]);
    // Which providers exist is this deployment's catalogue's to say (built-ins and LLM_ENDPOINTS).
    const unknownProvider = await load({
      'a.yml': workflowYml('a', '    fallbacks: [google/gemini-2.5-pro, azure/gpt-4o]\n'),
    });
    expect(unknownProvider.problems).toEqual([
      'a.yml: steps[1].fallbacks[1]: unknown provider "azure" in "azure/gpt-4o" (known: openai, anthropic, google)',
    ]);
    const unknownModel = await load({ 'a.yml': workflowYml('a', '    fallbacks: [google/gemini-9]\n') });
    expect(unknownModel.problems).toEqual([
      expect.stringContaining('steps[1].fallbacks[0]: unknown model "gemini-9" for google'),
    ]);
  });

  it('a template referring to a later step is an error at steps[i].prompt', async () => {
    const yml = workflowYml('a').replace('"Summarize:\\n{{input}}"', '"{{steps.draft.output}}"');
    const { problems } = await load({ 'a.yml': yml });
    expect(problems).toEqual([
      'a.yml: steps[0].prompt: {{steps.draft.output}}: step "draft" runs later; a step can only use earlier steps\' output',
    ]);
  });

  it('a template with an unknown variable is an error', async () => {
    const { problems } = await load({ 'a.yml': workflowYml('a').replace('{{input}}', '{{inputs}}') });
    expect(problems).toEqual([
      expect.stringMatching(/^a\.yml: steps\[0\]\.prompt: \{\{inputs\}\}: unknown variable "inputs"/),
    ]);
  });

  it.each(['{{env.HOME}}', '{{process.env.OPENAI_API_KEY}}'])(
    'a template reading %s is refused at load time',
    async (v) => {
      const { problems, workflows } = await load({ 'a.yml': workflowYml('a').replace('{{input}}', v) });
      expect(problems).toEqual([expect.stringContaining('steps[0].prompt: ')]);
      expect(problems[0]).toContain('cannot read environment variables or files');
      expect(workflows).toEqual([]);
    },
  );

  it('a multi-line prompt says which line of the prompt is wrong', async () => {
    const { problems } = await load({
      'a.yml': 'name: a\nsteps:\n  - name: x\n    prompt: |\n      Hello\n      {{previous.output}}\n',
    });
    expect(problems).toEqual([
      expect.stringMatching(/steps\[0\]\.prompt: .*first step has no previous step.*\(prompt line 2\)$/),
    ]);
  });

  it('duplicate step names point at the second one', async () => {
    const { problems } = await load({ 'a.yml': workflowYml('a').replace('name: draft', 'name: summarize') });
    expect(problems).toEqual(['a.yml: steps[1].name: duplicate step name "summarize" (also steps[0])']);
  });

  it('missing required fields are each reported', async () => {
    const { problems } = await load({ 'a.yml': 'description: no name\nsteps:\n  - name: one\n' });
    expect(problems).toEqual(['a.yml: name: is required', 'a.yml: steps[0].prompt: is required']);
    const noSteps = await load({ 'b.yml': 'name: b\n' });
    expect(noSteps.problems).toEqual(['b.yml: steps: is required']);
  });

  it('an unknown field is an error with the likely intended one', async () => {
    const { problems } = await load({ 'a.yml': workflowYml('a', '    timeout: 30\n') });
    expect(problems).toEqual([
      expect.stringMatching(
        /^a\.yml: steps\[1\]\.timeout: unknown field "timeout" — did you mean "timeout_seconds"\? \(allowed: /,
      ),
    ]);
  });

  it('bad values get concrete messages', async () => {
    const { problems } = await load({
      'a.yml': `name: Release Notes\nnotify: alerts\nowners: [bob]\ntimeout_seconds: 0\nsteps:\n  - name: Summarize!\n    prompt: ""\n    retries: 11\n`,
    });
    expect(problems).toEqual([
      'a.yml: name: must be a slug: 1-64 lowercase letters, digits and dashes, e.g. release-notes',
      'a.yml: notify: must be a Slack channel id (e.g. C0ALERTS) or a #channel-name',
      'a.yml: owners[0]: must be a Slack user id, e.g. U012AB3CD',
      'a.yml: timeout_seconds: must be a whole number from 1 to 3600 (per provider call)',
      'a.yml: steps[0].name: must be 1-64 lowercase letters, digits, "-" or "_", e.g. summarize',
      'a.yml: steps[0].prompt: must not be empty (the prompt template)',
      'a.yml: steps[0].retries: must be a whole number from 0 to 10 (extra attempts after the first)',
    ]);
  });

  it('retries and retry together are refused', async () => {
    const { problems } = await load({
      'a.yml': workflowYml('a', '    retries: 2\n    retry: { max_attempts: 3 }\n'),
    });
    expect(problems).toEqual([
      'a.yml: steps[1].retry: use either retries (a number) or retry (max_attempts, base_ms, max_ms), not both',
    ]);
  });

  it('an empty file and a file that is not a mapping are reported', async () => {
    const { problems } = await load({ 'a.yml': '# nothing yet\n', 'b.yml': '- name: b\n' });
    expect(problems).toEqual([
      'a.yml: the file is empty — expected a workflow with name, description and steps',
      'b.yml: expected a workflow with name, description and steps, found a list',
    ]);
  });

  it('two files with the same workflow name: the second is reported, naming the first', async () => {
    const { problems, workflows, dir } = await load({
      'a.yml': workflowYml('notes'),
      'b.yml': workflowYml('notes'),
    });
    expect(problems).toEqual([`b.yml: name: workflow "notes" is already defined in ${dir}/a.yml`]);
    expect(workflows.map((w) => w.name)).toEqual(['notes']);
  });

  it('keeps loading the other files and leaves broken workflows out', async () => {
    const { workflows, problems } = await load({ 'a.yml': workflowYml('a'), 'b.yml': 'name: b\nsteps: 3\n' });
    expect(workflows.map((w) => w.name)).toEqual(['a']);
    expect(problems).toHaveLength(1);
  });

  it('a missing workflows folder is a clear error', async () => {
    const result = await loadWorkflowDir('/nonexistent/workflows', fakeCatalogue());
    expect(result.errors.map(String)).toEqual([
      '/nonexistent/workflows: workflows folder not found at /nonexistent/workflows — create it, or set WORKFLOWS_DIR to the folder holding your workflow files',
    ]);
  });
});

describe('personas.yml', () => {
  it('a duplicate persona is reported in personas.yml', async () => {
    const { problems } = await load({
      'personas.yml': `${PERSONAS_YML}  - name: marketing\n    system: again\n`,
    });
    expect(problems).toEqual([
      'personas.yml: personas[2].name: duplicate persona "marketing" (also personas[1])',
    ]);
  });

  it('a persona without a system prompt is reported in personas.yml', async () => {
    const { problems } = await load({ 'personas.yml': `${PERSONAS_YML}  - name: sre\n    sytem: calm\n` });
    expect(problems).toEqual([
      'personas.yml: personas[2].system: is required',
      'personas.yml: personas[2].sytem: unknown field "sytem" — did you mean "system"? (allowed: name, description, system)',
    ]);
  });

  it('a broken personas.yml does not make every workflow fail on its persona names', async () => {
    const { problems } = await load({
      'personas.yml': `${PERSONAS_YML}  - name: x\n`,
      'a.yml': workflowYml('a'),
    });
    expect(problems).toEqual(['personas.yml: personas[2].system: is required']);
  });
});

describe('completing and keeping definitions', () => {
  it('a provider without a model gets the catalogue default model', async () => {
    const { workflows } = await load({ 'a.yml': workflowYml('a', '    provider: google\n') });
    expect(workflows[0]!.steps[1]).toMatchObject({ provider: 'google', model: 'gemini-2.5-flash' });
  });

  it('reads schedules into typed definitions with their defaults (details: test/schedules)', async () => {
    const { workflows, problems } = await load({
      'a.yml': `${workflowYml('a')}schedules:\n  - cron: "0 9 * * 1-5"\n    channel: C0DIGEST\n`,
    });
    expect(problems).toEqual([]);
    expect(workflows[0]!.schedules).toEqual([
      {
        cron: '0 9 * * 1-5',
        timezone: undefined,
        channel: 'C0DIGEST',
        input: '',
        overlap: 'skip',
        missed: 'run_once',
        pauseTimeoutMinutes: undefined,
      },
    ]);
  });

  it('reads .yaml files too and ignores other files', async () => {
    const { workflows } = await load({
      'a.yaml': workflowYml('a'),
      'README.md': '# not a workflow',
      'b.yml.bak': 'x',
    });
    expect(workflows.map((w) => w.name)).toEqual(['a']);
  });

  it('accepts owners, notify by #name and workflow-level fallbacks', async () => {
    const yml = workflowYml('a').replace(
      'steps:',
      'notify: "#ops-alerts"\nowners: [U012AB3CD, W0123ABCD]\nfallbacks: [openai/gpt-4.1]\nsteps:',
    );
    const { workflows, problems } = await load({ 'a.yml': yml });
    expect(problems).toEqual([]);
    expect(workflows[0]).toMatchObject({
      notify: '#ops-alerts',
      owners: ['U012AB3CD', 'W0123ABCD'],
      fallbacks: [{ provider: 'openai', model: 'gpt-4.1' }],
    });
  });
});

describe('loadWorkflowDirOrThrow (start)', () => {
  it('throws one WorkflowValidationError listing every problem', async () => {
    const dir = workflowDir({ 'a.yml': workflowYml('a', '    persona: nobody\n'), 'b.yml': 'name: [\n' });
    const error = await loadWorkflowDirOrThrow(dir, fakeCatalogue()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowValidationError);
    expect((error as WorkflowValidationError).errors).toHaveLength(2);
    expect((error as Error).message).toMatch(
      /^2 problems in workflow files:\n {2}- .*a\.yml: steps\[1\]\.persona: unknown persona "nobody"/,
    );
  });

  it('returns the workflows when every file is valid', async () => {
    const result = await loadWorkflowDirOrThrow(EXAMPLES, fakeCatalogue());
    expect(result.workflows).toHaveLength(3);
  });
});

describe('providers a deployment names (LLM_ENDPOINTS)', () => {
  const yml = workflowYml(
    'a',
    '    provider: ollama\n    model: llama3.1\n    fallbacks: [openai/gpt-4o-mini]\n',
  );
  const withOllama = buildCatalogue(
    loadConfig({
      LLM_ENDPOINTS: 'ollama',
      OLLAMA_BASE_URL: 'http://localhost:11434/v1',
      OLLAMA_MODELS: 'llama3.1,qwen2.5',
    }),
  );

  it('a step on a configured endpoint loads, its fallback on a built-in beside it', async () => {
    const { workflows, errors } = await loadWorkflowDir(workflowDir({ 'a.yml': yml }), withOllama);
    expect(errors).toEqual([]);
    expect(workflows[0]!.steps[1]).toMatchObject({
      provider: 'ollama',
      model: 'llama3.1',
      fallbacks: [{ provider: 'openai', model: 'gpt-4o-mini' }],
    });
  });

  it('an endpoint this deployment does not list is an unknown provider, naming the known ones', async () => {
    const dir = workflowDir({ 'a.yml': yml });
    const { errors } = await loadWorkflowDir(dir, buildCatalogue(loadConfig({})));
    expect(errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'steps[1].provider: unknown provider "ollama" (known: openai, anthropic, google)',
    ]);
    const wrongModel = workflowDir({ 'a.yml': yml.replace('model: llama3.1', 'model: llama9') });
    const loaded = await loadWorkflowDir(wrongModel, withOllama);
    expect(loaded.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'steps[1].model: unknown model "llama9" for ollama (known: llama3.1, qwen2.5)',
    ]);
  });

  it('a bare model without a provider names the endpoints among the choices', async () => {
    const dir = workflowDir({ 'a.yml': workflowYml('a', '    model: mistral\n') });
    const { errors } = await loadWorkflowDir(dir, withOllama);
    expect(errors.map((e) => e.message)).toEqual([
      'cannot tell which provider serves model "mistral" — add provider: openai, anthropic, google or ollama',
    ]);
  });
});
