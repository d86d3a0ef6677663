import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Document, isMap, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import type { ModelCatalogue } from '../core/ports.js';
import type { PersonaDefinition, WorkflowDefinition } from '../core/workflow-definition.js';
import { WorkflowFileError, WorkflowValidationError } from './definition-error.js';
import {
  formatPath,
  personasFileSchema,
  type SchemaProblem,
  schemaProblems,
  workflowFileSchema,
} from './schema.js';
import { validateWorkflow } from './validate.js';

/**
 * Reads a workflows folder: every *.yml / *.yaml is one workflow, except personas.yml.
 * Collects every problem rather than stopping at the first, so `workflow validate` can list
 * them all; start uses `loadWorkflowDirOrThrow`, which refuses any problem at all.
 * A workflow with a problem is left out of `workflows`; the others still load.
 */

export interface LoadResult {
  workflows: WorkflowDefinition[];
  personas: PersonaDefinition[];
  errors: WorkflowFileError[];
  /** Where each definition came from, for `source` columns and messages. */
  sources: { personas: string | undefined; workflows: Record<string, string> };
}

const PERSONAS_FILES = ['personas.yml', 'personas.yaml'];
const YAML_FILE = /\.ya?ml$/;

export async function loadWorkflowDir(dir: string, catalogue: ModelCatalogue): Promise<LoadResult> {
  const result: LoadResult = {
    workflows: [],
    personas: [],
    errors: [],
    sources: { personas: undefined, workflows: {} },
  };
  const entries = await listYamlFiles(dir);
  if (typeof entries === 'string') {
    result.errors.push(new WorkflowFileError(dir, '', entries));
    return result;
  }

  const personaFiles = entries.filter((f) => PERSONAS_FILES.includes(f));
  if (personaFiles.length > 1) {
    result.errors.push(
      new WorkflowFileError(
        join(dir, personaFiles[1]!),
        '',
        `use one personas file; ${personaFiles[0]} is already there`,
      ),
    );
  }
  const personaFile = personaFiles[0] === undefined ? undefined : join(dir, personaFiles[0]);
  const personaNames = new Set<string>();
  if (personaFile) {
    result.sources.personas = personaFile;
    const loaded = await loadFile(
      personaFile,
      personasFileSchema,
      result.errors,
      'a list of personas under "personas:"',
    );
    if (loaded.value) result.personas = loaded.value.personas;
    for (const name of loaded.value
      ? loaded.value.personas.map((p) => p.name)
      : rawPersonaNames(loaded.raw)) {
      personaNames.add(name);
    }
  }

  // Every file that claims a name, valid or not, so a duplicate is reported whichever is broken.
  const claimed = new Map<string, string>();
  const workflowFiles = entries.filter((f) => !PERSONAS_FILES.includes(f));
  for (const name of workflowFiles) {
    const file = join(dir, name);
    const loaded = await loadFile(
      file,
      workflowFileSchema,
      result.errors,
      'a workflow with name, description and steps',
    );
    const claimedName = (loaded.raw as { name?: unknown } | undefined)?.name;
    const other = typeof claimedName === 'string' ? claimed.get(claimedName) : undefined;
    if (typeof claimedName === 'string' && !other) claimed.set(claimedName, file);
    if (!loaded.value) continue;
    const { definition, problems } = validateWorkflow(loaded.value, {
      catalogue,
      personas: personaNames,
      personasFile: personaFile,
    });
    if (other)
      problems.unshift({
        path: ['name'],
        message: `workflow "${definition.name}" is already defined in ${other}`,
      });
    if (problems.length > 0) {
      result.errors.push(...toErrors(file, problems, loaded.doc, loaded.lines));
      continue;
    }
    result.workflows.push(definition);
    result.sources.workflows[definition.name] = file;
  }
  return result;
}

/** For start: the loaded workflows, or a WorkflowValidationError listing every problem. */
export async function loadWorkflowDirOrThrow(dir: string, catalogue: ModelCatalogue): Promise<LoadResult> {
  const result = await loadWorkflowDir(dir, catalogue);
  if (result.errors.length > 0) throw new WorkflowValidationError(result.errors);
  return result;
}

async function listYamlFiles(dir: string): Promise<string[] | string> {
  const missing = `workflows folder not found at ${resolve(dir)} — create it, or set WORKFLOWS_DIR to the folder holding your workflow files`;
  try {
    if (!(await stat(dir)).isDirectory())
      return `${resolve(dir)} is not a folder — set WORKFLOWS_DIR to a folder`;
    const names = await readdir(dir, { withFileTypes: true });
    return names
      .filter((e) => e.isFile() && YAML_FILE.test(e.name) && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return missing;
    return `cannot read the workflows folder ${resolve(dir)}: ${(error as Error).message}`;
  }
}

interface Loaded<T> {
  value: T | undefined;
  raw: unknown;
  doc: Document | undefined;
  lines: LineCounter;
}

async function loadFile<S extends z.ZodType>(
  file: string,
  schema: S,
  errors: WorkflowFileError[],
  expected: string,
): Promise<Loaded<z.output<S>>> {
  const lines = new LineCounter();
  const empty = { value: undefined, raw: undefined, doc: undefined, lines };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    errors.push(new WorkflowFileError(file, '', `cannot read the file: ${(error as Error).message}`));
    return empty;
  }
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const { line, col } = lines.linePos(e.pos[0]);
      const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      errors.push(
        new WorkflowFileError(file, '', `YAML syntax error at line ${line}, column ${col}: ${what}`, line),
      );
    }
    return { ...empty, doc };
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) {
    errors.push(new WorkflowFileError(file, '', `the file is empty — expected ${expected}`));
    return { ...empty, doc };
  }
  if (!isMap(doc.contents)) {
    errors.push(
      new WorkflowFileError(
        file,
        '',
        `expected ${expected}, found ${Array.isArray(raw) ? 'a list' : 'a single value'}`,
        1,
      ),
    );
    return { ...empty, raw, doc };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    errors.push(...toErrors(file, schemaProblems(parsed.error), doc, lines));
    return { ...empty, raw, doc };
  }
  return { value: parsed.data, raw, doc, lines };
}

function toErrors(
  file: string,
  problems: SchemaProblem[],
  doc: Document | undefined,
  lines: LineCounter,
): WorkflowFileError[] {
  return problems
    .map((p) => new WorkflowFileError(file, formatPath(p.path), p.message, lineOf(doc, p.path, lines)))
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/** The line of the node at `path`, or of its nearest existing parent (a missing field). */
function lineOf(
  doc: Document | undefined,
  path: (string | number)[],
  lines: LineCounter,
): number | undefined {
  if (!doc) return undefined;
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  return undefined;
}

/** Persona names from a personas.yml that failed validation, so workflows don't all fail too. */
function rawPersonaNames(raw: unknown): string[] {
  const list = (raw as { personas?: unknown } | undefined)?.personas;
  if (!Array.isArray(list)) return [];
  return list
    .map((p) => (p as { name?: unknown } | null)?.name)
    .filter((n): n is string => typeof n === 'string');
}
