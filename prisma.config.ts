import { defineConfig } from 'prisma/config';

// The CLI is only used for `generate` and, where Prisma's download host is reachable,
// `migrate dev`. The app applies migrations itself (src/db/migrate.ts).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/switchboard' },
});
