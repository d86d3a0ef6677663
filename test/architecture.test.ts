import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layers of docs/architecture.md, checked on every `npm test`: no import cycle between
 * files, no import that points up the layers, and Prisma (the generated client, its
 * queries, raw SQL) only in the data layer, src/db/.
 */

const ROOT = new URL('../', import.meta.url).pathname;
const SRC = join(ROOT, 'src');

/** Who may import whom: a folder (or top-level file) of src, and the parts it may use. */
const LAYERS: Record<string, readonly string[]> = {
  core: [],
  providers: ['core'],
  'config.ts': ['core', 'providers'],
  'logging.ts': ['core'],
  db: ['core', 'config.ts', 'logging.ts'],
  workflows: ['core', 'providers', 'config.ts', 'logging.ts', 'db'],
  engine: ['core', 'providers', 'config.ts', 'logging.ts', 'db', 'workflows'],
  health: ['core', 'providers', 'config.ts', 'logging.ts', 'db'],
  schedules: ['core', 'config.ts', 'logging.ts', 'db', 'workflows', 'engine'],
  'slack/views': ['core', 'providers'],
  slack: [
    'core',
    'providers',
    'config.ts',
    'logging.ts',
    'db',
    'workflows',
    'engine',
    'health',
    'schedules',
    'slack/views',
  ],
  ops: ['core', 'config.ts', 'logging.ts', 'db', 'engine'],
  // Wiring: the only code that knows every part.
  'bootstrap.ts': ['*'],
  'main.ts': ['*'],
  cli: ['*'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'generated' ? [] : sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module a file imports or re-exports, types included (a type import still couples). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g)].map(
    (m) => m[1]!,
  );
  specs.push(...[...text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!));
  specs.push(...[...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!));
  return specs;
}

/** A relative import as a path under src (".js" → ".ts"); packages stay as they are. */
function resolveImport(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return normalize(join(dirname(from), spec)).replace(/\.js$/, '.ts');
}

/** The layer a file of src belongs to: its folder, "slack/views", or a top-level file's name. */
function layerOf(file: string): string {
  const rel = relative(SRC, file);
  if (rel.startsWith('slack/views/')) return 'slack/views';
  return rel.includes('/') ? rel.split('/')[0]! : rel;
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f).map((s) => resolveImport(f, s))]));

/** Strongly connected components with more than one file (Tarjan). */
function cycles(): string[][] {
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(relative(SRC, w));
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  return found;
}

function upwardImports(): string[] {
  const wrong: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    const allowed = LAYERS[from];
    if (!allowed) {
      wrong.push(`${relative(SRC, file)}: in no layer of docs/architecture.md`);
      continue;
    }
    if (allowed.includes('*')) continue;
    for (const target of targets) {
      if (!target.startsWith(SRC)) continue;
      const to = layerOf(target);
      if (to !== from && !allowed.includes(to))
        wrong.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
    }
  }
  return wrong;
}

/** Prisma outside src/db: an import of the client or its adapters, a query, raw SQL. */
function prismaOutsideData(): string[] {
  const wrong: string[] = [];
  for (const file of files) {
    const rel = relative(SRC, file);
    if (rel.startsWith('db/')) continue;
    // Code only: a comment may well name prisma/schema.prisma.
    const text = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    for (const target of graph.get(file) ?? []) {
      const name = target.startsWith(SRC) ? relative(SRC, target) : target;
      if (/^(@prisma\/|pg$|@electric-sql\/pglite|pglite-prisma-adapter|db\/generated\/)/.test(name))
        wrong.push(`${rel} imports ${name}`);
    }
    for (const [pattern, what] of [
      [/\.prisma\b/, 'reaches for the Prisma client'],
      [/\$(transaction|queryRaw|executeRaw|queryRawUnsafe|executeRawUnsafe)\b/, 'runs SQL'],
      [/\bPrismaClient\b/, 'names PrismaClient'],
    ] as const) {
      if (pattern.test(text)) wrong.push(`${rel} ${what}`);
    }
  }
  return wrong;
}

describe('the layers of docs/architecture.md', () => {
  it('have no import cycle between files', () => {
    expect(cycles()).toEqual([]);
  });

  it('import only downward: core ← providers ← db ← workflows ← engine ← schedules ← slack; views only core', () => {
    expect(upwardImports()).toEqual([]);
  });

  it('keep every Prisma query and raw statement in src/db', () => {
    expect(prismaOutsideData()).toEqual([]);
  });
});
