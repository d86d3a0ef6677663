import { describe, expect, it } from 'vitest';
import type { ProviderId } from '../../src/core/provider-spec.js';
import {
  type ModelLevels,
  NoProviderError,
  resolveModel,
  resolvePersona,
  UnknownModelProviderError,
} from '../../src/engine/precedence.js';
import { fakeCatalogue } from '../workflows/fixtures.js';

const catalogue = fakeCatalogue(['anthropic', 'openai']);
const MODEL_LEVELS = ['override', 'step', 'workflow', 'global'] as const;
/** A distinct, complete choice per level, so the winner is recognisable. */
const CHOICE = {
  override: { provider: 'google', model: 'gemini-2.5-pro' },
  step: { provider: 'openai', model: 'gpt-4.1' },
  workflow: { provider: 'anthropic', model: 'claude-sonnet-4-5' },
  global: { provider: 'openai', model: 'o4-mini' },
} as const;

/** Every subset of `levels`, as a list of the present ones. */
function subsets<T>(levels: readonly T[]): T[][] {
  return Array.from({ length: 2 ** levels.length }, (_, mask) => levels.filter((_, i) => mask & (1 << i)));
}

describe('resolveModel', () => {
  describe.each(
    subsets(MODEL_LEVELS).map((present) => [present.join(' + ') || 'no level', present] as const),
  )('with %s set', (_label, present) => {
    const levels: ModelLevels = Object.fromEntries(present.map((l) => [l, CHOICE[l]]));
    const winner = MODEL_LEVELS.find((l) => present.includes(l));

    it(
      winner ? `uses the ${winner} level, the highest one set` : 'uses the first configured provider default',
      () => {
        const resolved = resolveModel(levels, catalogue);
        if (winner) expect(resolved).toEqual({ ...CHOICE[winner], source: winner });
        else expect(resolved).toEqual({ provider: 'anthropic', model: 'claude-haiku-4-5', source: 'global' });
      },
    );

    it(
      winner
        ? 'does not need any configured provider'
        : 'throws NoProviderError when no provider is configured',
      () => {
        const none = fakeCatalogue([]);
        if (winner) expect(resolveModel(levels, none).source).toBe(winner);
        else expect(() => resolveModel(levels, none)).toThrow(NoProviderError);
      },
    );
  });

  it('tells which variables to set when no provider is configured', () => {
    expect(() => resolveModel({}, fakeCatalogue([]))).toThrow(
      /OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY/,
    );
  });

  it.each(MODEL_LEVELS)('a %s level with only a provider uses that provider’s default model', (level) => {
    const levels: ModelLevels = { [level]: { provider: 'google' } };
    expect(resolveModel(levels, catalogue)).toEqual({
      provider: 'google',
      model: 'gemini-2.5-flash',
      source: level,
    });
  });

  it.each(MODEL_LEVELS)('a %s level with only a model uses the provider that serves it', (level) => {
    const levels: ModelLevels = { [level]: { model: 'claude-opus-4-1' } };
    expect(resolveModel(levels, catalogue)).toEqual({
      provider: 'anthropic',
      model: 'claude-opus-4-1',
      source: level,
    });
  });

  it('a model no provider serves is an error naming the model and the level', () => {
    expect(() => resolveModel({ step: { model: 'llama3' } }, catalogue)).toThrow(UnknownModelProviderError);
    expect(() => resolveModel({ step: { model: 'llama3' } }, catalogue)).toThrow(
      /"llama3" \(from the step level\)/,
    );
  });

  it('a provider-only override wins whole: it does not borrow the step’s model', () => {
    const resolved = resolveModel({ override: { provider: 'openai' }, step: CHOICE.workflow }, catalogue);
    expect(resolved).toEqual({ provider: 'openai', model: 'gpt-4o-mini', source: 'override' });
  });

  it('a partial lower level never fills in a higher one', () => {
    const resolved = resolveModel(
      { step: { model: 'gpt-4.1' }, workflow: { provider: 'google' } },
      catalogue,
    );
    expect(resolved).toEqual({ provider: 'openai', model: 'gpt-4.1', source: 'step' });
  });

  it('null, empty and missing fields count as unset', () => {
    const levels: ModelLevels = {
      override: { provider: null, model: null },
      step: { provider: '' as ProviderId, model: '' },
      workflow: null,
      global: { provider: 'openai', model: 'gpt-4o' },
    };
    expect(resolveModel(levels, catalogue)).toEqual({
      provider: 'openai',
      model: 'gpt-4o',
      source: 'global',
    });
  });

  it('a global default naming an unconfigured provider is still returned (the engine reports it at run time)', () => {
    expect(resolveModel({ global: { provider: 'google' } }, catalogue)).toMatchObject({ provider: 'google' });
  });
});

describe('resolvePersona', () => {
  const PERSONA_LEVELS = ['override', 'step', 'workflow'] as const;
  const NAME = { override: 'p-override', step: 'p-step', workflow: 'p-workflow' } as const;

  it.each(subsets(PERSONA_LEVELS).map((present) => [present.join(' + ') || 'no level', present] as const))(
    'with %s set, the highest level set wins, else none',
    (_label, present) => {
      const winner = PERSONA_LEVELS.find((l) => present.includes(l));
      const resolved = resolvePersona(Object.fromEntries(present.map((l) => [l, NAME[l]])));
      expect(resolved).toEqual(
        winner ? { persona: NAME[winner], source: winner } : { persona: null, source: 'none' },
      );
    },
  );

  it('clearing the override ("Use workflow default") falls back to the step, then the workflow persona', () => {
    expect(resolvePersona({ override: null, step: 'reviewer', workflow: 'sre' })).toEqual({
      persona: 'reviewer',
      source: 'step',
    });
    expect(resolvePersona({ override: null, step: null, workflow: 'sre' })).toEqual({
      persona: 'sre',
      source: 'workflow',
    });
  });

  it('treats an empty string as unset', () => {
    expect(resolvePersona({ override: '', step: '', workflow: '' })).toEqual({
      persona: null,
      source: 'none',
    });
  });
});
