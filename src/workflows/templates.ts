/**
 * The prompt template language. Deliberately tiny and closed: a template can read the run
 * input, earlier steps' outputs, the previous step's output, the run id and the date —
 * never the environment, files or anything else, so a workflow file cannot leak secrets.
 *
 *   {{input}}  {{steps.<name>.output}}  {{previous.output}}  {{run.id}}  {{date}}
 *
 * Whitespace inside the braces is allowed: {{ input }}. To write "{{" literally, put a
 * backslash before it: \{{ renders as {{ (and is the only escape; a lone "}}" is plain
 * text). In YAML, write such prompts as block scalars (|) or single-quoted strings, since
 * "\{" is not a valid escape inside double quotes.
 */

export type TemplateRef =
  | { kind: 'input' }
  | { kind: 'step'; step: string }
  | { kind: 'previous' }
  | { kind: 'runId' }
  | { kind: 'date' };

export type TemplatePart =
  | { type: 'text'; text: string }
  | { type: 'var'; ref: TemplateRef /** As written, braces included. */; raw: string; offset: number };

export interface TemplateProblem {
  message: string;
  /** Offset of the offending "{{" in the template text. */
  offset: number;
  /** 1-based line and column inside the template text. */
  line: number;
  column: number;
}

export interface ParsedTemplate {
  source: string;
  parts: TemplatePart[];
  /** Syntax problems: unclosed braces, unknown variables. */
  problems: TemplateProblem[];
}

export interface TemplateContext {
  /** Names of the steps before this one, in order. */
  earlierSteps: readonly string[];
  isFirst: boolean;
  /** Names of the steps after this one, so a forward reference gets a precise message. */
  laterSteps?: readonly string[] | undefined;
  /** This step's own name. */
  self?: string | undefined;
}

export interface TemplateVars {
  input: string;
  /** Output of every completed step, by step name. */
  outputs: ReadonlyMap<string, string>;
  /** Output of the step just before; unset for the first step. */
  previous?: string | undefined;
  runId: string;
  /** The date to show, already formatted by the caller (e.g. 2025-06-01). */
  date: string;
}

export class TemplateError extends Error {
  override name = 'TemplateError';
  constructor(readonly problems: TemplateProblem[]) {
    super(problems.map((p) => p.message).join('; '));
  }
}

export const TEMPLATE_VARIABLES = [
  'input',
  'steps.<name>.output',
  'previous.output',
  'run.id',
  'date',
] as const;
const KNOWN = `use ${TEMPLATE_VARIABLES.slice(0, -1).join(', ')} or ${TEMPLATE_VARIABLES.at(-1)}`;
const STEP_REF = /^steps\.([a-z0-9][a-z0-9_-]*)\.output$/;

export function parseTemplate(source: string): ParsedTemplate {
  const parts: TemplatePart[] = [];
  const problems: TemplateProblem[] = [];
  let text = '';
  let i = 0;
  const flushText = () => {
    if (text) parts.push({ type: 'text', text });
    text = '';
  };
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    if (open < 0) {
      text += source.slice(i);
      break;
    }
    if (open > 0 && source[open - 1] === '\\') {
      text += `${source.slice(i, open - 1)}{{`;
      i = open + 2;
      continue;
    }
    text += source.slice(i, open);
    const close = source.indexOf('}}', open + 2);
    if (close < 0) {
      problems.push(
        problem(source, open, 'unclosed "{{" — close it with "}}", or write \\{{ for a literal "{{"'),
      );
      text += source.slice(open);
      break;
    }
    const raw = source.slice(open, close + 2);
    const result = parseRef(source.slice(open + 2, close).trim());
    if (typeof result === 'string') {
      problems.push(problem(source, open, `${raw}: ${result}`));
    } else {
      flushText();
      parts.push({ type: 'var', ref: result, raw, offset: open });
    }
    i = close + 2;
  }
  flushText();
  return { source, parts, problems };
}

function parseRef(expr: string): TemplateRef | string {
  if (expr === 'input') return { kind: 'input' };
  if (expr === 'previous.output') return { kind: 'previous' };
  if (expr === 'run.id') return { kind: 'runId' };
  if (expr === 'date') return { kind: 'date' };
  const step = STEP_REF.exec(expr);
  if (step) return { kind: 'step', step: step[1]! };
  if (expr === '') return `empty variable (${KNOWN})`;
  if (/^(env|process)\b/.test(expr) || /\b(env|file|require|import)\b/.test(expr)) {
    return `templates cannot read environment variables or files (${KNOWN})`;
  }
  if (/^steps\.[^.]+$/.test(expr)) return `did you mean {{${expr}.output}}?`;
  if (expr === 'previous') return 'did you mean {{previous.output}}?';
  if (expr.startsWith('steps.')) return 'a step reference must be {{steps.<name>.output}}';
  return `unknown variable "${expr}" (${KNOWN})`;
}

/** Every problem of a step's template: syntax, and references it cannot make from its place. */
export function checkTemplate(
  template: string | ParsedTemplate,
  context: TemplateContext,
): TemplateProblem[] {
  const parsed = typeof template === 'string' ? parseTemplate(template) : template;
  const problems = [...parsed.problems];
  for (const part of parsed.parts) {
    if (part.type !== 'var') continue;
    const at = (message: string) =>
      problems.push(problem(parsed.source, part.offset, `${part.raw}: ${message}`));
    if (part.ref.kind === 'previous' && context.isFirst) {
      at('the first step has no previous step — use {{input}}');
    } else if (part.ref.kind === 'step' && !context.earlierSteps.includes(part.ref.step)) {
      const name = part.ref.step;
      if (name === context.self) at('a step cannot use its own output');
      else if (context.laterSteps?.includes(name))
        at(`step "${name}" runs later; a step can only use earlier steps' output`);
      else at(`unknown step "${name}" (earlier steps: ${context.earlierSteps.join(', ') || 'none'})`);
    }
  }
  return problems.sort((a, b) => a.offset - b.offset);
}

/** Fills a template. Pure: reads only `vars`. Throws TemplateError for a bad template or a missing value. */
export function renderTemplate(template: string | ParsedTemplate, vars: TemplateVars): string {
  const parsed = typeof template === 'string' ? parseTemplate(template) : template;
  if (parsed.problems.length > 0) throw new TemplateError(parsed.problems);
  const missing: TemplateProblem[] = [];
  const out = parsed.parts.map((part) => {
    if (part.type === 'text') return part.text;
    const value = lookup(part.ref, vars);
    if (value === undefined) {
      missing.push(
        problem(parsed.source, part.offset, `${part.raw}: no value yet (has that step completed?)`),
      );
      return '';
    }
    return value;
  });
  if (missing.length > 0) throw new TemplateError(missing);
  return out.join('');
}

function lookup(ref: TemplateRef, vars: TemplateVars): string | undefined {
  switch (ref.kind) {
    case 'input':
      return vars.input;
    case 'step':
      return vars.outputs.get(ref.step);
    case 'previous':
      return vars.previous;
    case 'runId':
      return vars.runId;
    case 'date':
      return vars.date;
  }
}

function problem(source: string, offset: number, message: string): TemplateProblem {
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return { message, offset, line, column };
}
