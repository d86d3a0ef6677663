import { describe, expect, it } from 'vitest';
import {
  ACTIONS,
  ALERT_RETRY_WITH_PATTERN,
  alertRetryWithActionId,
  DEFAULT_PERSONA_VALUE,
  modelValue,
  parseBlockId,
  parseIdValue,
  parseModelValue,
  parsePersonaValue,
  parseRetryWithValue,
  parseRunBlockId,
  parseStepBlockId,
  retryWithValue,
  runBlockId,
  stepBlockId,
} from '../../../src/slack/views/action-ids.js';

const STEP = 'cstep0000000000000000001';

describe('action values', () => {
  it('model values round-trip, including models with / and :', () => {
    for (const [provider, model] of [
      ['openai', 'gpt-4o-mini'],
      ['openai', 'meta-llama/Llama-3.1-8B-Instruct'],
      ['openai', 'llama3.1:8b'],
      ['anthropic', 'claude-haiku-4-5@20251001'],
    ] as const) {
      const value = modelValue(provider, model)!;
      expect(value).toBe(`${provider}/${model}`);
      expect(parseModelValue(value)).toEqual({ provider, model });
    }
  });

  it.each([
    undefined,
    42,
    '',
    'openai',
    '/gpt-4o',
    'openai/',
    'OpenAI/gpt-4o',
    'openai/gpt 4o',
    'openai/gpt\n4o',
    'open ai/gpt-4o',
    `openai/${'x'.repeat(200)}`,
  ])('rejects the malformed model value %j', (value) => {
    expect(parseModelValue(value)).toBeUndefined();
  });

  it('refuses to build a value Slack could not carry (over 150 characters)', () => {
    expect(modelValue('openai', 'x'.repeat(150))).toBeUndefined();
  });

  it('persona values: the default marker or a persona id, nothing else', () => {
    expect(parsePersonaValue(DEFAULT_PERSONA_VALUE)).toEqual({ kind: 'default' });
    expect(parsePersonaValue('cpersona0000000000000001')).toEqual({
      kind: 'persona',
      personaId: 'cpersona0000000000000001',
    });
    for (const bad of ['', 'a b', 'x'.repeat(65), '../etc', null, {}, 'id|other']) {
      expect(parsePersonaValue(bad)).toBeUndefined();
    }
  });

  it('id values (Retry, View output, Pause/Resume/Cancel) accept ids only', () => {
    expect(parseIdValue(STEP)).toBe(STEP);
    for (const bad of ['', ' ', 'a:b', 'a|b', 'x'.repeat(65), 7, undefined])
      expect(parseIdValue(bad)).toBeUndefined();
  });

  it('"Retry with" values carry the step and the provider/model', () => {
    const value = retryWithValue(STEP, 'openai', 'gpt-4o-mini')!;
    expect(value).toBe(`${STEP}|openai/gpt-4o-mini`);
    expect(parseRetryWithValue(value)).toEqual({ stepId: STEP, provider: 'openai', model: 'gpt-4o-mini' });
    for (const bad of [STEP, `|openai/gpt-4o`, `${STEP}|openai`, `${STEP}|`, `bad id|openai/gpt`, 5]) {
      expect(parseRetryWithValue(bad)).toBeUndefined();
    }
  });

  it('"Retry with" action ids are numbered and matched by one pattern', () => {
    expect(alertRetryWithActionId(0)).toBe('alert_retry_with:0');
    expect(ALERT_RETRY_WITH_PATTERN.test(alertRetryWithActionId(4))).toBe(true);
    expect(ALERT_RETRY_WITH_PATTERN.test(ACTIONS.retry)).toBe(false);
  });
});

describe('block ids', () => {
  it('carry scope, id, version and part', () => {
    const id = stepBlockId(STEP, 7, 'menus');
    expect(id).toBe(`step:${STEP}:v7:menus`);
    expect(parseStepBlockId(id)).toEqual({ stepId: STEP, version: 7, part: 'menus' });
    expect(parseRunBlockId(id)).toBeUndefined();
    expect(parseRunBlockId(runBlockId('crun1', 0, 'controls'))).toEqual({
      runId: 'crun1',
      version: 0,
      part: 'controls',
    });
  });

  it.each([
    undefined,
    '',
    'step',
    `step:${STEP}`,
    `step:${STEP}:7:menus`,
    `step:${STEP}:vx:menus`,
    `card:${STEP}:v1:menus`,
    `step:a b:v1:menus`,
  ])('rejects the malformed block id %j', (value) => {
    expect(parseBlockId(value)).toBeUndefined();
  });
});
