import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';

/**
 * No Docker engine runs here, so these tests read docker-compose.yml, the Dockerfile,
 * .dockerignore and .env.example the way `docker compose config` and `docker build` would,
 * and check what the deployment relies on. The same topology (two bot processes sharing
 * one PostgreSQL) is exercised for real by the resilience suite's two-process test.
 */

type Service = Record<string, unknown> & {
  build?: unknown;
  image?: string;
  environment?: Record<string, string>;
  env_file?: { path: string; required?: boolean }[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: {
    test: string[];
    interval?: string;
    timeout?: string;
    start_period?: string;
    retries?: number;
  };
  ports?: string[];
  profiles?: string[];
  volumes?: string[];
  restart?: string;
  container_name?: string;
};
interface ComposeFile {
  name?: string;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const composeText = readFileSync('docker-compose.yml', 'utf8');
const exampleEnv = parseEnv(readFileSync('.env.example', 'utf8')) as Record<string, string>;
// What a user has after `cp .env.example .env` and filling in the password.
const userEnv = { ...exampleEnv, POSTGRES_PASSWORD: 'pw-0123456789abcdef' };

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$. */
function interpolate(value: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
      (whole, name, colon, op, arg) => {
        if (whole === '$$') return '$';
        const v = env[name as string];
        const missing = v === undefined || (colon === ':' && v === '');
        if (op === '-') return missing ? (arg as string) : (v as string);
        if (op === '?' && missing) throw new Error(`required variable ${name} is missing a value: ${arg}`);
        return v ?? '';
      },
    );
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  }
  return value;
}

/** Parsed (YAML merge keys resolved, as compose does) and interpolated. */
function loadCompose(env: Record<string, string | undefined> = userEnv): ComposeFile {
  const raw = parse(composeText, { merge: true }) as Record<string, unknown>;
  // x- extension fields are YAML anchors' homes; compose ignores them after merging.
  const kept = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('x-')));
  return interpolate(kept, env) as ComposeFile;
}

const compose = loadCompose();
const services = compose.services;
const bot = services.bot as Service;
const replica = services['bot-2'] as Service;
const postgres = services.postgres as Service;

/** Services `docker compose up` starts with the given profiles enabled. */
const active = (profiles: string[]) =>
  Object.keys(services).filter((name) => {
    const p = services[name]?.profiles;
    return !p || p.some((x) => profiles.includes(x));
  });

// The keys of the compose specification this file may use: a typo ("depend_on") would be
// rejected by `docker compose config`, so it is rejected here too.
const SERVICE_KEYS = new Set([
  'build',
  'command',
  'container_name',
  'depends_on',
  'deploy',
  'entrypoint',
  'env_file',
  'environment',
  'expose',
  'healthcheck',
  'image',
  'init',
  'labels',
  'logging',
  'networks',
  'ports',
  'profiles',
  'pull_policy',
  'restart',
  'stop_grace_period',
  'user',
  'volumes',
  'working_dir',
]);
const DURATION = /^(\d+(\.\d+)?(us|ms|s|m|h))+$/;

describe('docker-compose.yml', () => {
  it('has only keys the compose specification knows', () => {
    const raw = parse(composeText, { merge: true }) as Record<string, unknown>;
    for (const key of Object.keys(raw)) {
      expect(
        ['name', 'services', 'volumes', 'networks', 'secrets', 'configs'].includes(key) ||
          key.startsWith('x-'),
        key,
      ).toBe(true);
    }
    for (const [name, service] of Object.entries(services)) {
      for (const key of Object.keys(service)) expect(SERVICE_KEYS.has(key), `${name}.${key}`).toBe(true);
      expect(service.image ?? service.build, `${name} needs an image or a build`).toBeDefined();
      if (service.restart)
        expect(['no', 'always', 'on-failure', 'unless-stopped']).toContain(service.restart);
      for (const dep of Object.keys(service.depends_on ?? {})) expect(Object.keys(services)).toContain(dep);
      for (const mount of service.volumes ?? []) {
        const source = mount.split(':')[0] as string;
        if (!/^[./~]/.test(source))
          expect(Object.keys(compose.volumes ?? {}), `volume ${source}`).toContain(source);
      }
      const hc = service.healthcheck;
      if (hc) {
        expect(['CMD', 'CMD-SHELL']).toContain(hc.test[0]);
        for (const d of [hc.interval, hc.timeout, hc.start_period]) if (d) expect(d).toMatch(DURATION);
      }
    }
  });

  it('runs PostgreSQL 16 with a named volume and a pg_isready healthcheck', () => {
    expect(postgres.image).toMatch(/^postgres:16(\.|-|$)/);
    expect(compose.volumes).toHaveProperty('pgdata');
    expect(postgres.volumes).toContain('pgdata:/var/lib/postgresql/data');
    expect(postgres.healthcheck?.test.join(' ')).toContain('pg_isready');
    expect(Object.keys(postgres.environment ?? {}).sort()).toEqual([
      'POSTGRES_DB',
      'POSTGRES_PASSWORD',
      'POSTGRES_USER',
    ]);
    expect(postgres.ports, 'the database is reached over the compose network only').toBeUndefined();
  });

  it("checks pg_isready with the container's own variables ($$ escapes compose's interpolation)", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell variables, expanded in the container
    expect(postgres.healthcheck?.test[1]).toBe('pg_isready -U "${POSTGRES_USER}" -d "${POSTGRES_DB}"');
  });

  it('builds the bot from the Dockerfile and starts it only once PostgreSQL is healthy', () => {
    expect(bot.build).toBe('.');
    expect(bot.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(bot.restart).toBe('unless-stopped');
    expect(bot.env_file).toEqual([{ path: '.env', required: false }]);
    expect(bot.environment?.NODE_ENV).toBe('production');
  });

  it("points the bot's DATABASE_URL at the postgres service with its credentials", () => {
    const url = new URL(bot.environment?.DATABASE_URL as string);
    expect(url.protocol).toBe('postgresql:');
    expect(url.hostname).toBe('postgres');
    expect(Object.keys(services)).toContain(url.hostname);
    expect(url.port).toBe('5432');
    expect(decodeURIComponent(url.username)).toBe(postgres.environment?.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(postgres.environment?.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${postgres.environment?.POSTGRES_DB}`);
    // The app accepts it.
    expect(loadConfig({ DATABASE_URL: url.toString() }).database.url).toBe(url.toString());
  });

  it('refuses to start without a database password, naming the variable', () => {
    expect(() => loadCompose({ ...exampleEnv, POSTGRES_PASSWORD: '' })).toThrow(/POSTGRES_PASSWORD/);
  });

  it('publishes the HTTP port the bot listens on and health-checks /healthz on it', () => {
    expect(bot.ports).toEqual(['3000:3000']);
    expect(loadCompose({ ...userEnv, BOT_PORT: '8080' }).services.bot?.ports).toEqual(['8080:3000']);
    expect(bot.environment?.PORT).toBe('3000');
    const check = bot.healthcheck?.test ?? [];
    expect(check[0]).toBe('CMD');
    expect(check[1]).toBe('node'); // the slim image has no curl or wget
    expect(check.join(' ')).toContain('http://127.0.0.1:3000/healthz');
  });

  it('runs one bot by default and a second replica under the replicas profile', () => {
    expect(active([])).toEqual(['postgres', 'bot']);
    expect(active(['replicas'])).toEqual(['postgres', 'bot', 'bot-2']);
    expect(replica.profiles).toEqual(['replicas']);
  });

  it('gives the replica the same build and settings as the bot, and nothing that blocks --scale', () => {
    const { profiles: _p, ...replicaRest } = replica;
    const { ports: _ports, ...botRest } = bot;
    expect(replicaRest).toEqual(botRest);
    // A fixed host port or container name would clash between replicas.
    expect(replica.ports).toBeUndefined();
    expect(replica.container_name).toBeUndefined();
  });
});

/** Dockerfile instructions, continuation lines joined, grouped by stage. */
function dockerfileStages(text: string) {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: { image: string; name: string | undefined; instructions: { op: string; args: string }[] }[] =
    [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ image: m?.[1] ?? '', name: m?.[2], instructions: [] });
    } else {
      expect(stages.length, `${op} before any FROM`).toBeGreaterThan(0);
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

describe('Dockerfile', () => {
  const stages = dockerfileStages(readFileSync('Dockerfile', 'utf8'));
  const final = stages.at(-1) as (typeof stages)[number];
  const ops = (op: string, stage = final) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
  const stage = (name: string) => stages.find((s) => s.name === name);

  it('is multi-stage, every stage named, on Node 22 slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.name, `FROM ${s.image} needs AS <name>`).toBeDefined();
    expect(final.image).toMatch(/^node:22(\.\d+)*(-bookworm)?-slim$/);
  });

  it('copies only from earlier stages, and the final stage gets production dependencies and the generated client', () => {
    stages.forEach((s, index) => {
      for (const copy of ops('COPY', s)) {
        const from = /--from=(\S+)/.exec(copy)?.[1];
        if (from) expect(stages.slice(0, index).map((p) => p.name)).toContain(from);
      }
    });
    const nodeModules = ops('COPY').find((c) => /\bnode_modules\b/.test(c));
    const source = stage(/--from=(\S+)/.exec(nodeModules ?? '')?.[1] ?? '');
    expect(source, 'node_modules copied from a stage').toBeDefined();
    expect(ops('RUN', source).join(' ')).toMatch(/npm ci .*--omit=dev/);
    const generated = ops('COPY').find((c) => c.includes('src/db/generated'));
    expect(generated).toMatch(/--from=(\S+)/);
    expect(ops('RUN', stage(/--from=(\S+)/.exec(generated ?? '')?.[1] ?? '')).join(' ')).toMatch(/npm ci\b/);
  });

  it('copies what the app reads at run time: code, migrations, workflows, package.json', () => {
    const copied = ops('COPY')
      .filter((c) => !c.includes('--from='))
      .join(' ');
    for (const path of ['src', 'prisma', 'workflows', 'package.json']) expect(copied).toContain(path);
  });

  it('runs as a non-root user in the final stage, in production mode, on port 3000', () => {
    const users = ops('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(ops('ENV').join(' ')).toMatch(/\bNODE_ENV=production\b/);
    expect(ops('EXPOSE')).toContain('3000');
  });

  it('health-checks /healthz with node and starts the app with tsx', () => {
    const healthcheck = ops('HEALTHCHECK').join(' ');
    expect(healthcheck).toContain('/healthz');
    expect(healthcheck).toMatch(/CMD \["node"/);
    expect(healthcheck).not.toMatch(/\b(curl|wget)\b/);
    const cmd = ops('CMD').at(-1) ?? '';
    expect(JSON.parse(cmd)).toEqual(['node', '--import', 'tsx', 'src/main.ts']);
    // tsx must then be a production dependency.
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.tsx).toBeDefined();
  });
});

describe('.dockerignore', () => {
  const ignored = readFileSync('.dockerignore', 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'));

  it('keeps secrets, local data and host node_modules out of the image', () => {
    for (const path of ['.env', 'node_modules', 'data', '.git']) expect(ignored).toContain(path);
  });

  it('does not exclude anything the build copies', () => {
    for (const path of [
      'src',
      'prisma',
      'workflows',
      'scripts',
      'package.json',
      'package-lock.json',
      'prisma.config.ts',
    ]) {
      expect(ignored).not.toContain(path);
    }
  });
});

describe('.env.example', () => {
  const configSource = readFileSync('src/config.ts', 'utf8');
  const schema = configSource.slice(configSource.indexOf('const envSchema'), configSource.indexOf('\n});'));
  const variables = [...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] as string);
  const text = readFileSync('.env.example', 'utf8');

  it('mentions every variable the configuration reads', () => {
    expect(variables.length).toBeGreaterThan(20);
    const missing = variables.filter((v) => !new RegExp(`^#? ?${v}=`, 'm').test(text));
    expect(missing, 'add these to .env.example').toEqual([]);
  });

  it('mentions every variable docker-compose.yml reads', () => {
    const used = new Set([...composeText.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1] as string));
    expect([...used].filter((v) => !new RegExp(`^#? ?${v}=`, 'm').test(text))).toEqual([]);
  });

  it('is a valid configuration as it stands', () => {
    expect(() => loadConfig(exampleEnv)).not.toThrow();
  });
});
