import { EventEmitter } from 'node:events';
import type { RunStatus, StepStatus } from './states.js';

/**
 * What the engine tells the outside world. The Slack layer subscribes; the engine imports
 * nothing of Slack. Events carry ids and the new state only: listeners read the rest from
 * the database, the single source of truth.
 */
export interface EngineEvents {
  'run.changed': [{ runId: string; to: RunStatus; actor: string }];
  'step.changed': [{ runId: string; stepId: string; to: StepStatus; actor: string }];
  /** A card edit (provider/model or persona override) that did not change the status. */
  'step.edited': [{ runId: string; stepId: string; field: string; actor: string }];
  /**
   * Live text of a running step, as the provider streams it: never stored, only shown.
   * `reset` says that what was shown for the step before is void (a new attempt starts, or
   * the attempt failed: then `text` is empty); otherwise `text` continues it.
   */
  'step.output': [{ runId: string; stepId: string; attempt: number; text: string; reset: boolean }];
  /** A provider call finished (success or failure), for health and metrics. */
  'attempt.recorded': [
    {
      runId: string;
      stepId: string;
      /** The StepAttempt row's id, so a listener that also reads the table counts it once. */
      attemptId: string;
      provider: string;
      model: string;
      outcome: 'success' | 'error';
      errorKind: string | null;
      latencyMs: number;
      finishedAt: Date;
      inputTokens?: number;
      outputTokens?: number;
      /** USD at the known price; null when no price is known (docs/control.md). */
      costUsd?: number | null;
      /** The run's workflow (the cost metric's label). */
      workflow?: string;
    },
  ];
}

export class EngineEventBus extends EventEmitter<EngineEvents> {
  /** Where a listener's failure is reported (a logger); listeners never break the engine. */
  onListenerError: (error: unknown, event: string) => void = () => {};

  constructor() {
    super({ captureRejections: false });
    this.setMaxListeners(50);
  }

  /** Emit without letting a listener's exception or rejection reach the caller. */
  safeEmit<K extends keyof EngineEvents>(event: K, ...args: EngineEvents[K]): void {
    for (const listener of this.listeners(event)) {
      try {
        const result = (listener as (...a: unknown[]) => unknown)(...(args as unknown[]));
        if (result instanceof Promise) result.catch((error: unknown) => this.onListenerError(error, event));
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
  }
}
