import { buildChildren } from './children.js';
import { usingPostgres, writeEmbeddedSnapshot } from './db.js';

/**
 * Once per `npm test`, before any test file: bundle the child processes tests start, and
 * (embedded) take the migrated database each test file opens a copy of.
 */
export default async function setup(): Promise<void> {
  await buildChildren();
  if (!usingPostgres) await writeEmbeddedSnapshot();
}
