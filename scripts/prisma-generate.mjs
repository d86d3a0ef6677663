// Runs `prisma generate` without letting the CLI download its schema-engine binary.
// Prisma's CLI resolves the schema engine before every command, and its download host is
// out of reach on locked-down machines (only the npm registry is). `generate` never runs
// the engine, so any executable file satisfies the check. A user who set
// PRISMA_SCHEMA_ENGINE_BINARY themselves keeps theirs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync('prisma/schema.prisma')) process.exit(0); // installed as a dependency elsewhere
const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
const result = spawnSync('npx', ['--no-install', 'prisma', 'generate'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
