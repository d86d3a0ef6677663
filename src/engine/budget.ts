import type { Clock } from '../core/clock.js';
import { callCost, formatUsd, type PriceList, promptTokenBound, worstCaseCost } from '../core/cost.js';
import type { PauseKind } from '../core/error-kinds.js';
import type { ModelRef, Usage } from '../core/provider-spec.js';
import type { BudgetCap, BudgetKey, BudgetLedger } from '../db/budget-ledger.js';
import type { Logger } from '../logging.js';
import { readSnapshot } from './snapshot.js';

/**
 * Budgets that act before overspend (docs/control.md, "Budgets"). Before every provider
 * call, its worst case — the prompt's token bound and the call's max output tokens at the
 * model's price — is reserved under each cap the run counts against: the run's own
 * (budget.per_run_usd, raisable from Slack), its workflow's per UTC day (budget.per_day_usd)
 * and every run's together per UTC day (BUDGET_DAILY_USD). A cap the reservation would cross
 * refuses the call: the step pauses with the reason in words instead. After the call the
 * reservation is settled to the actual cost.
 */

export interface BudgetSettings {
  /** BUDGET_DAILY_USD: every run's calls together, per UTC day. */
  dailyUsd?: number | undefined;
  /** MAX_OUTPUT_TOKENS: sent with every call, so a call's output cost is bounded. */
  maxOutputTokens: number;
}

/** The run columns a reservation reads. */
export interface BudgetedRun {
  id: string;
  workflowName: string;
  budgetUsd: number | null;
  snapshot: unknown;
}

/** A reserved call: settle it once with its actual cost (null: no price, 0: not billed). */
export interface BudgetHold {
  readonly worstUsd: number;
  settle(actualUsd: number | null): Promise<void>;
}

const NO_HOLD: BudgetHold = { worstUsd: 0, settle: async () => {} };

/** A call the budget refused: the step pauses with `message` (plain words) and `kind`. */
export class BudgetExceeded extends Error {
  override name = 'BudgetExceeded';
  constructor(
    readonly kind: Extract<PauseKind, 'over_run_budget' | 'over_daily_budget' | 'unpriced_model'>,
    readonly ref: ModelRef,
    message: string,
  ) {
    super(message);
  }

  static isInstance(value: unknown): value is BudgetExceeded {
    return value instanceof BudgetExceeded;
  }
}

/** "Raise this run's cap": twice the cap, rounded up to the cent. */
export function raisedCap(usd: number): number {
  return Math.ceil(usd * 2 * 100 - 1e-9) / 100;
}

/** The UTC day a daily cap counts in. */
export const budgetDay = (at: Date) => at.toISOString().slice(0, 10);

export class BudgetGuard {
  constructor(
    private readonly o: {
      ledger: Pick<BudgetLedger, 'reserve' | 'settle'>;
      prices: PriceList;
      settings: BudgetSettings;
      clock: Pick<Clock, 'now'>;
      logger: Logger;
    },
  ) {}

  get maxOutputTokens(): number {
    return this.o.settings.maxOutputTokens;
  }

  /** What a call with this usage cost at today's price; null when the price is unknown. */
  costOf(ref: ModelRef, usage: Usage): number | null {
    return callCost(usage, this.o.prices.price(ref));
  }

  /** The caps a call of `run` counts against, now. */
  caps(run: BudgetedRun): BudgetCap[] {
    const day = budgetDay(this.o.clock.now());
    const caps: BudgetCap[] = [];
    if (run.budgetUsd !== null) caps.push({ scope: `run:${run.id}`, day: '', capUsd: run.budgetUsd });
    const perDay = readSnapshot(run.snapshot).definition.budget?.perDayUsd;
    if (perDay !== undefined) caps.push({ scope: `workflow:${run.workflowName}`, day, capUsd: perDay });
    if (this.o.settings.dailyUsd !== undefined)
      caps.push({ scope: 'global', day, capUsd: this.o.settings.dailyUsd });
    return caps;
  }

  /**
   * Reserves a call's worst case, or throws BudgetExceeded. No cap applies: nothing is
   * written and nothing is refused, whatever the price.
   */
  async reserve(
    run: BudgetedRun,
    ref: ModelRef,
    texts: readonly (string | undefined)[],
  ): Promise<BudgetHold> {
    const caps = this.caps(run);
    if (caps.length === 0) return NO_HOLD;
    const price = this.o.prices.price(ref);
    const name = `${ref.provider}/${ref.model}`;
    if (!price) {
      throw new BudgetExceeded(
        'unpriced_model',
        ref,
        `No price is known for ${name}, so this run's budget cannot be checked before calling it. Add its price to PRICES_FILE or MODEL_PRICES, or switch the step to a priced model.`,
      );
    }
    const worstUsd = worstCaseCost(promptTokenBound(texts), this.o.settings.maxOutputTokens, price);
    const result = await this.o.ledger.reserve(caps, worstUsd);
    if (!result.ok) {
      const { cap, spentUsd, reservedUsd } = result;
      const what =
        cap.scope === 'global'
          ? 'The daily cap for all runs (BUDGET_DAILY_USD)'
          : cap.scope.startsWith('workflow:')
            ? `The daily cap of ${run.workflowName} (budget.per_day_usd)`
            : "This run's cap";
      const day = cap.day ? ` today (UTC ${cap.day})` : '';
      const held = reservedUsd > 0 ? ` and ${formatUsd(reservedUsd)} held by calls in flight` : '';
      throw new BudgetExceeded(
        cap.scope.startsWith('run:') ? 'over_run_budget' : 'over_daily_budget',
        ref,
        `${what} is ${formatUsd(cap.capUsd)}: ${formatUsd(spentUsd)} spent${held}${day}. The next call to ${name} could cost up to ${formatUsd(worstUsd)}, so it was not made.`,
      );
    }
    const keys: BudgetKey[] = caps.map(({ scope, day }) => ({ scope, day }));
    let settled = false;
    return {
      worstUsd,
      settle: async (actualUsd) => {
        if (settled) return;
        settled = true;
        // No price means no reservation was made above; a known price always gives a number.
        await this.o.ledger.settle(keys, worstUsd, actualUsd ?? 0).catch((error: unknown) =>
          // Left reserved: the cap counts the worst case, which errs on the safe side.
          this.o.logger.warn({ err: (error as Error).message }, 'could not settle a budget reservation'),
        );
      },
    };
  }
}
