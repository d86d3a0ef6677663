import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

it('stores and reads a persona through Prisma', async () => {
  const p = await db.prisma.persona.create({ data: { name: 'x', system: 'be brief' } });
  const found = await db.prisma.persona.findUnique({ where: { name: 'x' } });
  expect(found?.id).toBe(p.id);
  const n = await db.prisma.workflowRun.count();
  expect(n).toBe(0);
});
