import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/children.js';

/**
 * The bench runs the suite's own fakes (test/support: the Slack Web API stub, the OpenAI
 * server stub, signed requests) outside the test runner, on today's date. Nothing it loads
 * may bring in the runner or nock, nor the suite's fixed calendar (its signed requests would
 * be stale to the bot it starts).
 */

/** What `npm run bench` runs: its entry, and the two entries it starts as processes. */
const ENTRIES = ['bench/run.ts', 'bench/engine-child.ts', 'bench/bare-bolt.ts'];

describe('the bench', () => {
  it('loads the shared fakes, and neither the test runner, nor nock, nor the suite’s calendar', async () => {
    const { metafile } = await build({
      absWorkingDir: ROOT,
      entryPoints: ENTRIES,
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      outdir: join(ROOT, 'test/.build/bench-graph'),
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const files = Object.keys(metafile.inputs);
    const packages = new Set(
      Object.values(metafile.inputs).flatMap((input) =>
        input.imports.filter((i) => i.external).map((i) => i.path),
      ),
    );
    expect(files).toContain('test/support/slack-api-stub.ts');
    expect(files).toContain('test/support/openai-stub.ts');
    expect(files).toContain('test/support/slack-requests.ts');
    expect([...packages].filter((p) => /^(vitest|@vitest\/|vite$|nock$)/.test(p))).toEqual([]);
    expect(files.filter((f) => /test-date\.mjs$|test\/support\/(clock|db)\.ts$/.test(f))).toEqual([]);
  });
});
