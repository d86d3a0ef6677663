import { describe, expect, it } from 'vitest';
import {
  checkTemplate,
  parseTemplate,
  renderTemplate,
  TemplateError,
  type TemplateVars,
} from '../../src/workflows/templates.js';

const vars = (over: Partial<TemplateVars> = {}): TemplateVars => ({
  input: 'the changelog',
  outputs: new Map([['summarize', 'the summary']]),
  previous: 'the previous output',
  runId: 'run_1',
  date: '2025-06-01',
  ...over,
});

const second = { earlierSteps: ['summarize'], isFirst: false, laterSteps: ['publish'], self: 'draft' };
const messages = (text: string, context = second) => checkTemplate(text, context).map((p) => p.message);

describe('parseTemplate', () => {
  it('splits text and variables, allowing whitespace inside the braces', () => {
    expect(parseTemplate('Hi {{ input }}!{{steps.summarize.output}}').parts).toEqual([
      { type: 'text', text: 'Hi ' },
      { type: 'var', ref: { kind: 'input' }, raw: '{{ input }}', offset: 3 },
      { type: 'text', text: '!' },
      {
        type: 'var',
        ref: { kind: 'step', step: 'summarize' },
        raw: '{{steps.summarize.output}}',
        offset: 15,
      },
    ]);
  });

  it('knows every variable of the language', () => {
    const kinds = parseTemplate(
      '{{input}}{{previous.output}}{{run.id}}{{date}}{{steps.a-b_c.output}}',
    ).parts.map((p) => (p.type === 'var' ? p.ref.kind : 'text'));
    expect(kinds).toEqual(['input', 'previous', 'runId', 'date', 'step']);
  });

  it('reports an unclosed "{{" with its line and column', () => {
    const { problems } = parseTemplate('line one\nsee {{input');
    expect(problems).toEqual([
      expect.objectContaining({ line: 2, column: 5, message: expect.stringMatching(/unclosed "\{\{"/) }),
    ]);
  });

  it('treats a lone "}}" as text', () => {
    expect(parseTemplate('a }} b').problems).toEqual([]);
  });
});

describe('checkTemplate', () => {
  it('accepts every variable used from a valid place', () => {
    expect(messages('{{input}} {{steps.summarize.output}} {{previous.output}} {{run.id}} {{date}}')).toEqual(
      [],
    );
  });

  it('rejects an unknown variable and lists the known ones', () => {
    expect(messages('{{user}}')).toEqual([
      '{{user}}: unknown variable "user" (use input, steps.<name>.output, previous.output, run.id or date)',
    ]);
  });

  it.each(['{{env.HOME}}', '{{ process.env.OPENAI_API_KEY }}', '{{file}}', "{{require('fs')}}"])(
    'refuses %s: templates never read the environment or files',
    (text) => {
      expect(messages(text)).toEqual([expect.stringContaining('cannot read environment variables or files')]);
    },
  );

  it('rejects a reference to a later step, naming it', () => {
    expect(messages('{{steps.publish.output}}')).toEqual([
      '{{steps.publish.output}}: step "publish" runs later; a step can only use earlier steps\' output',
    ]);
  });

  it('rejects a reference to an unknown step and lists the earlier ones', () => {
    expect(messages('{{steps.summary.output}}')).toEqual([
      '{{steps.summary.output}}: unknown step "summary" (earlier steps: summarize)',
    ]);
  });

  it('rejects a step reading its own output', () => {
    expect(messages('{{steps.draft.output}}')).toEqual([
      '{{steps.draft.output}}: a step cannot use its own output',
    ]);
  });

  it('rejects {{previous.output}} in the first step', () => {
    expect(
      messages('{{previous.output}}', { earlierSteps: [], isFirst: true, laterSteps: [], self: 'a' }),
    ).toEqual(['{{previous.output}}: the first step has no previous step — use {{input}}']);
  });

  it('suggests the full form for {{steps.x}} and {{previous}}', () => {
    expect(messages('{{steps.summarize}} {{previous}}')).toEqual([
      '{{steps.summarize}}: did you mean {{steps.summarize.output}}?',
      '{{previous}}: did you mean {{previous.output}}?',
    ]);
  });

  it('reports every problem, in order', () => {
    expect(messages('{{a}} {{steps.publish.output}} {{')).toHaveLength(3);
  });
});

describe('renderTemplate', () => {
  it('fills every variable', () => {
    expect(
      renderTemplate(
        '{{ input }}|{{steps.summarize.output}}|{{previous.output}}|{{run.id}}|{{date}}',
        vars(),
      ),
    ).toBe('the changelog|the summary|the previous output|run_1|2025-06-01');
  });

  it('renders \\{{ as a literal "{{" (the only escape)', () => {
    expect(renderTemplate('JSON: \\{{"a": 1}} and {{input}}', vars())).toBe(
      'JSON: {{"a": 1}} and the changelog',
    );
  });

  it('does not re-expand braces inside values (an LLM output cannot inject variables)', () => {
    expect(renderTemplate('{{input}}', vars({ input: '{{run.id}} {{env.HOME}}' }))).toBe(
      '{{run.id}} {{env.HOME}}',
    );
  });

  it('accepts an already parsed template', () => {
    expect(renderTemplate(parseTemplate('{{date}}'), vars())).toBe('2025-06-01');
  });

  it('throws TemplateError for a bad template instead of guessing', () => {
    expect(() => renderTemplate('{{env.HOME}}', vars())).toThrow(TemplateError);
  });

  it('throws TemplateError when a referenced step has no output yet', () => {
    expect(() => renderTemplate('{{steps.draft.output}}', vars())).toThrow(/no value yet/);
    expect(() => renderTemplate('{{previous.output}}', vars({ previous: undefined }))).toThrow(TemplateError);
  });

  it('keeps text without variables unchanged, including an empty template', () => {
    expect(renderTemplate('', vars())).toBe('');
    expect(renderTemplate('plain { text } }}', vars())).toBe('plain { text } }}');
  });
});
