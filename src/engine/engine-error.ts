/**
 * Errors the runs service throws to its callers (Slack, CLI, schedules). Each carries a
 * short message a user can act on; `code` lets callers choose how to show it.
 */
export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    readonly code:
      | 'not_found'
      | 'stale'
      | 'invalid_choice'
      | 'input_too_large'
      | 'disabled'
      | 'no_provider'
      | 'not_allowed'
      | 'too_many_runs',
    message: string,
    readonly suggestions: string[] = [],
  ) {
    super(message);
  }

  static isInstance(value: unknown): value is EngineError {
    return value instanceof EngineError;
  }
}

export const notFound = (what: string, suggestions: string[] = []) =>
  new EngineError('not_found', what, suggestions);

export const stale = (message: string) => new EngineError('stale', message);
