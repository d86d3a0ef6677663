import type { PrismaClient } from './database.js';
import { RUN_TX_OPTIONS } from './transactions.js';

/**
 * Spending against budget caps (docs/control.md, "Budgets"). A provider call first reserves
 * its worst case in every ledger row it counts against — the run's cap, its workflow's day
 * and the global day — and settles to its actual cost once it answered.
 *
 * The reservation is one transaction that locks the rows (SELECT … FOR UPDATE, always in
 * key order, so two reservations never deadlock), checks spent + reserved + amount ≤ cap
 * for each, and adds the amount to all of them or to none. Reservations of runs that share
 * a cap therefore queue on its row: each sees every call admitted before it, in flight or
 * settled, and none can overspend the cap together.
 */

export interface BudgetKey {
  /** "global", "workflow:<name>" or "run:<id>". */
  scope: string;
  /** The UTC day ("2026-11-28") of a daily cap; "" for a run's. */
  day: string;
}

export interface BudgetCap extends BudgetKey {
  capUsd: number;
}

export interface LedgerRow extends BudgetKey {
  spentUsd: number;
  reservedUsd: number;
}

export type Reservation =
  | { ok: true }
  /** The first cap (in key order) the amount would cross, and where it stood. */
  | { ok: false; cap: BudgetCap; spentUsd: number; reservedUsd: number };

const keyOrder = (a: BudgetKey, b: BudgetKey) =>
  a.scope === b.scope ? (a.day < b.day ? -1 : a.day > b.day ? 1 : 0) : a.scope < b.scope ? -1 : 1;

export class BudgetLedger {
  constructor(private readonly prisma: PrismaClient) {}

  /** Reserves `amountUsd` under every cap, or under none (and says which cap it would cross). */
  async reserve(caps: readonly BudgetCap[], amountUsd: number): Promise<Reservation> {
    if (caps.length === 0) return { ok: true };
    const sorted = [...caps].sort(keyOrder);
    return this.prisma.$transaction(async (tx) => {
      await tx.budgetLedger.createMany({
        data: sorted.map((c) => ({ scope: c.scope, day: c.day })),
        skipDuplicates: true,
      });
      const rows = await tx.$queryRawUnsafe<LedgerRow[]>(
        `SELECT "scope", "day", "spentUsd", "reservedUsd" FROM "BudgetLedger"
          WHERE ("scope", "day") IN (SELECT * FROM unnest($1::text[], $2::text[]))
          ORDER BY "scope", "day" FOR UPDATE`,
        sorted.map((c) => c.scope),
        sorted.map((c) => c.day),
      );
      for (const cap of sorted) {
        const row = rows.find((r) => r.scope === cap.scope && r.day === cap.day);
        const spentUsd = row?.spentUsd ?? 0;
        const reservedUsd = row?.reservedUsd ?? 0;
        if (spentUsd + reservedUsd + amountUsd > cap.capUsd) return { ok: false, cap, spentUsd, reservedUsd };
      }
      await tx.budgetLedger.updateMany({
        where: { OR: sorted.map((c) => ({ scope: c.scope, day: c.day })) },
        data: { reservedUsd: { increment: amountUsd } },
      });
      return { ok: true } as const;
    }, RUN_TX_OPTIONS);
  }

  /**
   * A call's reservation becomes its actual cost (0 for a failed call: providers do not bill
   * those). One statement for every row it was reserved under.
   */
  async settle(keys: readonly BudgetKey[], reservedUsd: number, actualUsd: number): Promise<void> {
    if (keys.length === 0) return;
    await this.prisma.$executeRawUnsafe(
      `UPDATE "BudgetLedger" SET "spentUsd" = "spentUsd" + $3::float8,
         "reservedUsd" = GREATEST(0, "reservedUsd" - $4::float8), "updatedAt" = now()
        WHERE ("scope", "day") IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      keys.map((k) => k.scope),
      keys.map((k) => k.day),
      actualUsd,
      reservedUsd,
    );
  }

  /** Where a cap stands (null: nothing spent or reserved under it yet). */
  async row(key: BudgetKey): Promise<LedgerRow | null> {
    return this.prisma.budgetLedger.findUnique({
      where: { scope_day: { scope: key.scope, day: key.day } },
      select: { scope: true, day: true, spentUsd: true, reservedUsd: true },
    });
  }
}
