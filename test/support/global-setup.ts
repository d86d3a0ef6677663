import { buildChildren } from './children.js';

/** Once per `npm test`, before any test file: bundle the child processes tests start. */
export default async function setup(): Promise<void> {
  await buildChildren();
}
