import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelCatalogue } from '../../src/core/ports.js';
import type { ProviderId } from '../../src/core/provider-spec.js';

/** The catalogue's published model lists (first = default). */
export const KNOWN_MODELS: Record<ProviderId, string[]> = {
  openai: ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1', 'gpt-4.1-mini', 'o4-mini'],
  anthropic: ['claude-haiku-4-5', 'claude-sonnet-4-5', 'claude-opus-4-1'],
  google: ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.5-flash-lite'],
};

/** A catalogue over KNOWN_MODELS where only `configured` providers have credentials. */
export function fakeCatalogue(configured: ProviderId[] = ['openai', 'anthropic', 'google']): ModelCatalogue {
  const all = Object.keys(KNOWN_MODELS);
  return {
    providers: configured,
    knownProviders: all,
    label: (p) => p,
    models: (p) => (configured.includes(p) ? (KNOWN_MODELS[p] ?? []) : []),
    knownModels: (p) => KNOWN_MODELS[p] ?? [],
    defaultModel: (p) => KNOWN_MODELS[p]?.[0] ?? '',
    has: (p, m) => KNOWN_MODELS[p]?.includes(m) ?? false,
    inferProvider: (m) => all.find((p) => KNOWN_MODELS[p]?.includes(m)),
  };
}

export const PERSONAS_YML = `personas:
  - name: tech-writer
    description: Plain technical writing
    system: You are a precise technical writer.
  - name: marketing
    system: You write customer-facing copy.
`;

/** A valid two-step workflow file; `extra` lines are appended to the second step. */
export function workflowYml(name = 'release-notes', secondStep = ''): string {
  return `name: ${name}
description: Draft release notes
persona: tech-writer
provider: anthropic
model: claude-haiku-4-5
steps:
  - name: summarize
    prompt: "Summarize:\\n{{input}}"
  - name: draft
    prompt: "Write notes from:\\n{{steps.summarize.output}}"
${secondStep}`;
}

/** A fresh folder holding `files` (name → content); personas.yml included unless given. */
export function workflowDir(files: Record<string, string>, withPersonas = true): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-workflows-'));
  const all = withPersonas ? { 'personas.yml': PERSONAS_YML, ...files } : files;
  for (const [name, content] of Object.entries(all)) writeFileSync(join(dir, name), content);
  return dir;
}
