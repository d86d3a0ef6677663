import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { callCost, formatCost, formatUsd, promptTokenBound, worstCaseCost } from '../../src/core/cost.js';
import { BUILT_IN_PRICES, buildPriceList, builtInModels } from '../../src/providers/prices.js';

/** The price table (docs/control.md, "Cost"): built in for every shipped model, overridable. */

const dir = mkdtempSync(join(tmpdir(), 'sb-prices-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('prices', () => {
  it('has a price for every model the provider table ships', () => {
    const list = buildPriceList();
    const missing = builtInModels().filter((ref) => {
      const [provider, ...model] = ref.split('/');
      return !list.price({ provider: provider!, model: model.join('/') });
    });
    expect(missing).toEqual([]);
    expect(BUILT_IN_PRICES.openai['gpt-4o-mini']).toEqual({ inputPerMTok: 0.15, outputPerMTok: 0.6 });
  });

  it('prices a call per million tokens, and says unknown (never zero) for a model without a price', () => {
    const list = buildPriceList();
    const mini = list.price({ provider: 'openai', model: 'gpt-4o-mini' });
    expect(callCost({ inputTokens: 1_000_000, outputTokens: 500_000 }, mini)).toBeCloseTo(0.45, 10);
    expect(
      callCost({ inputTokens: 10, outputTokens: 10 }, list.price({ provider: 'openai', model: 'llama3.1' })),
    ).toBeNull();
    expect(formatCost({ usd: 0, unpriced: 1 })).toBe('cost unknown');
    expect(formatCost({ usd: 0.0021, unpriced: 1 })).toBe('$0.0021 + unknown');
    expect(formatCost({ usd: 0, unpriced: 0 })).toBe('$0.00');
    expect(formatUsd(1.234)).toBe('$1.23');
  });

  it('bounds a prompt by its UTF-8 bytes plus the chat format, and a call by its max output', () => {
    expect(promptTokenBound(['héllo', undefined, 'ab'])).toBe(6 + 2 + 32);
    expect(worstCaseCost(1000, 4096, { inputPerMTok: 1, outputPerMTok: 5 })).toBeCloseTo(0.02148, 10);
  });

  it('takes overrides from PRICES_FILE and MODEL_PRICES, the latter winning', () => {
    const file = join(dir, 'prices.yml');
    writeFileSync(
      file,
      'openai/gpt-4o-mini: { input: 1, output: 2 }\nopenai/llama3.1:8b: { input: 0, output: 0 }\n',
    );
    const config = loadConfig({ PRICES_FILE: file, MODEL_PRICES: 'openai/gpt-4o-mini=0.5:0.75' });
    const list = buildPriceList(config.prices);
    expect(list.price({ provider: 'openai', model: 'gpt-4o-mini' })).toEqual({
      inputPerMTok: 0.5,
      outputPerMTok: 0.75,
    });
    expect(list.price({ provider: 'openai', model: 'llama3.1:8b' })).toEqual({
      inputPerMTok: 0,
      outputPerMTok: 0,
    });
    expect(list.price({ provider: 'anthropic', model: 'claude-haiku-4-5' })).toEqual({
      inputPerMTok: 1,
      outputPerMTok: 5,
    });
  });

  it('refuses a bad price file or list with the variable and what to write', () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(
      bad,
      'gpt-4o: { input: 1, output: 2 }\nopenai/gpt-4o: { input: -1, output: 2 }\nopenai/x: { in: 1 }\n',
    );
    const message = problems({ PRICES_FILE: bad });
    expect(message).toContain('PRICES_FILE: "gpt-4o" must be "provider/model"');
    expect(message).toContain(
      'PRICES_FILE: "openai/gpt-4o" needs input and output: USD per million tokens, 0 or more',
    );
    expect(message).toContain('PRICES_FILE: "openai/x" needs input and output');
    expect(problems({ PRICES_FILE: join(dir, 'nope.yml') })).toContain('PRICES_FILE: cannot read');
    writeFileSync(join(dir, 'list.yml'), '- openai/gpt-4o\n');
    expect(problems({ PRICES_FILE: join(dir, 'list.yml') })).toContain(
      'PRICES_FILE: must map "provider/model" to prices',
    );
    expect(problems({ MODEL_PRICES: 'openai/gpt-4o=1' })).toContain(
      'MODEL_PRICES: "openai/gpt-4o=1" must be provider/model=input:output',
    );
    expect(problems({ MODEL_PRICES: 'gpt-4o=1:2' })).toContain('MODEL_PRICES: "gpt-4o=1:2"');
  });

  it('reads BUDGET_DAILY_USD and MAX_OUTPUT_TOKENS, refusing nonsense', () => {
    expect(loadConfig({}).budget).toEqual({ dailyUsd: undefined, maxOutputTokens: 4096 });
    expect(loadConfig({ BUDGET_DAILY_USD: '12.5', MAX_OUTPUT_TOKENS: '1000' }).budget).toEqual({
      dailyUsd: 12.5,
      maxOutputTokens: 1000,
    });
    expect(problems({ BUDGET_DAILY_USD: '0' })).toContain(
      'BUDGET_DAILY_USD: must be an amount in US dollars above 0',
    );
    expect(problems({ BUDGET_DAILY_USD: '$5' })).toContain('BUDGET_DAILY_USD');
    expect(problems({ MAX_OUTPUT_TOKENS: '0' })).toContain(
      'MAX_OUTPUT_TOKENS: must be a whole number from 1',
    );
  });
});
