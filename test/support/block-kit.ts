import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/**
 * Checks Block Kit payloads the way Slack would: the reference schema
 * (test/fixtures/slack/block-kit.schema.json, draft 2020-12) plus the payload-level rules the
 * schema documents but cannot enforce (docs.slack.dev/reference/block-kit/blocks,
 * docs.slack.dev/reference/methods/chat.postMessage):
 *   - a message has a non-empty `text` fallback and at most 50 blocks; a view 100;
 *   - block_ids are unique in the message/view; action_ids are unique within their block;
 *   - a select's initial_option is exactly one of its options (Slack rejects the payload
 *     otherwise) and option values are unique within the select;
 *   - at most 12,000 characters of markdown per message (counted over every mrkdwn text
 *     object and markdown block — stricter than Slack's markdown-block-only rule, which
 *     keeps messages readable).
 * Throws an Error listing every problem with its JSON path.
 */

// ajv-formats is CommonJS: under NodeNext its default export arrives as the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

type Json = Record<string, unknown>;

const schema = JSON.parse(
  readFileSync(new URL('../fixtures/slack/block-kit.schema.json', import.meta.url), 'utf8'),
) as Json & { $id: string; $defs: Record<string, Json> };

/**
 * Unions discriminated by `type`: with Ajv's `discriminator` hint a bad block yields one
 * precise error instead of one per union member. context_block_element mixes an element
 * and the text_object union, so it is flattened first.
 */
const DISCRIMINATED = [
  'block',
  'actions_block_element',
  'section_accessory_element',
  'input_block_element',
  'context_block_element',
  'context_actions_block_element',
  'container_child_block',
  'rich_text_leaf',
  'rich_text_container_element',
  'text_object',
];

function withDiscriminators(source: typeof schema): typeof schema {
  const copy = structuredClone(source);
  const defs = copy.$defs;
  const cbe = defs.context_block_element;
  if (cbe && Array.isArray(cbe.oneOf)) {
    cbe.oneOf = (cbe.oneOf as Json[]).flatMap((s) =>
      s.$ref === '#/$defs/text_object'
        ? [{ $ref: '#/$defs/plain_text_object' }, { $ref: '#/$defs/mrkdwn_text_object' }]
        : [s],
    );
  }
  for (const name of DISCRIMINATED) {
    const def = defs[name];
    if (def && Array.isArray(def.oneOf)) def.discriminator = { propertyName: 'type' };
  }
  return copy;
}

function compile(): { blocks: ValidateFunction; modal: ValidateFunction; home: ValidateFunction } {
  const build = (s: typeof schema, discriminator: boolean) => {
    const ajv = new Ajv2020({ allErrors: true, strict: false, discriminator });
    addFormats(ajv);
    ajv.addSchema(s);
    return {
      blocks: ajv.compile({ $ref: s.$id }),
      modal: ajv.compile({ $ref: `${s.$id}#/$defs/modal_view` }),
      home: ajv.compile({ $ref: `${s.$id}#/$defs/home_view` }),
    };
  };
  try {
    return build(withDiscriminators(schema), true);
  } catch {
    // A union Ajv cannot discriminate: validate without hints (errors are only noisier).
    return build(schema, false);
  }
}

const validators = compile();

function schemaProblems(validate: ValidateFunction, value: unknown, base: string): string[] {
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => formatError(e, base, value));
}

function formatError(e: ErrorObject, base: string, root: unknown): string {
  const path = `${base}${e.instancePath}`;
  const params = Object.entries(e.params)
    .filter(([k]) => k !== 'error')
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join(', ');
  const at = pointer(root, e.instancePath);
  const shown = at === undefined ? '' : ` (got ${preview(at)})`;
  return `${path || '/'} ${e.message ?? 'is invalid'}${params ? ` [${params}]` : ''}${shown}`;
}

function pointer(root: unknown, path: string): unknown {
  let node = root;
  for (const raw of path.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function preview(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 160 ? `${s.slice(0, 157)}…` : s;
}

// ── payload-level rules ─────────────────────────────────────────────────────

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every object in the tree, depth first, with its JSON path. */
export function* walk(node: unknown, path = ''): Generator<{ node: Json; path: string }> {
  if (Array.isArray(node)) {
    for (const [i, child] of node.entries()) yield* walk(child, `${path}/${i}`);
  } else if (isObject(node)) {
    yield { node, path };
    for (const [k, child] of Object.entries(node)) yield* walk(child, `${path}/${k}`);
  }
}

function blockRules(blocks: unknown[], base: string, maxBlocks: number): string[] {
  const problems: string[] = [];
  if (blocks.length > maxBlocks)
    problems.push(`${base} has ${blocks.length} blocks; the limit is ${maxBlocks}`);

  const blockIds = new Map<string, number>();
  blocks.forEach((block, i) => {
    if (!isObject(block)) return;
    if (typeof block.block_id === 'string') {
      const first = blockIds.get(block.block_id);
      if (first !== undefined) {
        problems.push(
          `${base}/${i}/block_id "${block.block_id}" repeats block ${first}; block_ids must be unique`,
        );
      } else blockIds.set(block.block_id, i);
    }
    const actionIds = new Set<string>();
    for (const { node, path } of walk(block, `${base}/${i}`)) {
      if (typeof node.action_id === 'string') {
        if (actionIds.has(node.action_id)) {
          problems.push(
            `${path}/action_id "${node.action_id}" repeats within its block; action_ids must be unique per block`,
          );
        }
        actionIds.add(node.action_id);
      }
      problems.push(...selectRules(node, path));
    }
  });
  return problems;
}

function selectRules(node: Json, path: string): string[] {
  const problems: string[] = [];
  const options = Array.isArray(node.options)
    ? (node.options as unknown[])
    : Array.isArray(node.option_groups)
      ? (node.option_groups as unknown[]).flatMap((g) =>
          isObject(g) && Array.isArray(g.options) ? g.options : [],
        )
      : undefined;
  if (!options || typeof node.type !== 'string' || !node.type.includes('select')) return problems;
  if (options.length > 100) problems.push(`${path} offers ${options.length} options; the limit is 100`);
  const values = options.map((o) => (isObject(o) ? o.value : undefined));
  const dupes = values.filter((v, i) => values.indexOf(v) !== i);
  if (dupes.length > 0) problems.push(`${path} repeats option values ${JSON.stringify([...new Set(dupes)])}`);
  const initial = node.initial_option;
  if (initial !== undefined && !options.some((o) => JSON.stringify(o) === JSON.stringify(initial))) {
    problems.push(`${path}/initial_option ${preview(initial)} is not exactly one of the options`);
  }
  return problems;
}

/** Characters of markdown in a payload: every mrkdwn text object plus every markdown block. */
export function markdownChars(blocks: unknown): number {
  let total = 0;
  for (const { node } of walk(blocks)) {
    if ((node.type === 'mrkdwn' || node.type === 'markdown') && typeof node.text === 'string')
      total += node.text.length;
  }
  return total;
}

export interface MessageLike {
  text?: unknown;
  blocks?: unknown;
}

/** All problems with a chat.postMessage/chat.update body; empty when Slack would accept it. */
export function messageProblems(message: MessageLike): string[] {
  const problems: string[] = [];
  if (typeof message.text !== 'string' || message.text.trim() === '') {
    problems.push(
      '/text is missing: every message needs a text fallback for notifications and screen readers',
    );
  } else if (message.text.length > 40_000) {
    problems.push(`/text has ${message.text.length} characters; Slack truncates after 40,000`);
  }
  if (message.blocks === undefined) return problems;
  if (!Array.isArray(message.blocks)) return [...problems, '/blocks must be an array'];
  problems.push(...schemaProblems(validators.blocks, message.blocks, '/blocks'));
  problems.push(...blockRules(message.blocks, '/blocks', 50));
  const md = markdownChars(message.blocks);
  if (md > 12_000)
    problems.push(`/blocks carry ${md} characters of markdown; the limit is 12,000 per message`);
  return problems;
}

export function viewProblems(view: unknown, kind: 'modal' | 'home'): string[] {
  const problems = schemaProblems(kind === 'modal' ? validators.modal : validators.home, view, '');
  if (isObject(view) && Array.isArray(view.blocks)) problems.push(...blockRules(view.blocks, '/blocks', 100));
  return problems;
}

function fail(what: string, problems: string[], value: unknown): never {
  throw new Error(
    `${what} is not valid Block Kit:\n  - ${problems.join('\n  - ')}\n\npayload: ${preview(value).slice(0, 160)}`,
  );
}

/** Throws unless `message` ({ text, blocks }) would be accepted by chat.postMessage. */
export function expectValidMessage(message: MessageLike): void {
  const problems = messageProblems(message);
  if (problems.length > 0) fail('message', problems, message);
}

/** Throws unless `view` would be accepted by views.open / views.update. */
export function expectValidModal(view: unknown): void {
  const problems = viewProblems(view, 'modal');
  if (problems.length > 0) fail('modal view', problems, view);
}

/** Throws unless `view` would be accepted by views.publish. */
export function expectValidHome(view: unknown): void {
  const problems = viewProblems(view, 'home');
  if (problems.length > 0) fail('home view', problems, view);
}

/** Every human-visible string in a payload (text objects, option labels, fallback), newline-joined. */
export function visibleText(payload: unknown): string {
  const out: string[] = [];
  if (isObject(payload) && typeof payload.text === 'string') out.push(payload.text);
  for (const { node } of walk(isObject(payload) && 'blocks' in payload ? payload.blocks : payload)) {
    if (
      (node.type === 'mrkdwn' || node.type === 'plain_text' || node.type === 'markdown') &&
      typeof node.text === 'string'
    ) {
      out.push(node.text);
    }
  }
  return out.join('\n');
}

/** Every element/block of a given `type` anywhere in a payload (e.g. 'static_select', 'button'). */
export function findByType(payload: unknown, type: string): Json[] {
  return [...walk(payload)].map((w) => w.node).filter((n) => n.type === type);
}
