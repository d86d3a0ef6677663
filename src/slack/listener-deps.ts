import type { Logger } from '../logging.js';
import type { ActionService } from './card-actions.js';
import type { CommandService } from './commands.js';
import type { ControlActions } from './control-actions.js';
import type { HomeTab } from './home-tab.js';
import type { PersonaEditor } from './persona-editor.js';
import type { Publisher } from './publisher.js';
import type { AuthoringService } from './workflow-editor.js';

/** What the Bolt listeners (listeners.ts, editor-listeners.ts) are given. */
export interface ListenerDeps {
  commands: CommandService;
  actions: ActionService;
  /** Approvals, re-runs and budget raises (docs/control.md). */
  control: ControlActions;
  authoring: AuthoringService;
  personas: PersonaEditor;
  home: HomeTab;
  publisher: Publisher;
  /** Told when Slack reports someone joining or leaving a channel. */
  membership: { forget(channelId: string): void };
  logger: Logger;
}

/**
 * Listener work still running after its ack (a run being started, a step being switched).
 * Shutdown waits for it before stopping the engine; tests wait for it to see the effect.
 */
export class InFlight {
  private readonly running = new Set<Promise<unknown>>();

  wrap<A>(handler: (args: A) => Promise<void>): (args: A) => Promise<void> {
    return (args) => {
      const work = handler(args);
      this.running.add(work);
      const done = () => this.running.delete(work);
      work.then(done, done);
      return work;
    };
  }

  isIdle(): boolean {
    return this.running.size === 0;
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
