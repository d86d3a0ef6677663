-- AlterEnum
ALTER TYPE "RunStatus" ADD VALUE 'awaiting_approval' AFTER 'paused';

-- AlterEnum
ALTER TYPE "StepStatus" ADD VALUE 'awaiting_approval' AFTER 'paused';

-- AlterTable
ALTER TABLE "WorkflowRun" ADD COLUMN     "budgetUsd" DOUBLE PRECISION,
ADD COLUMN     "rerunFromPosition" INTEGER,
ADD COLUMN     "rerunOfId" TEXT;

-- AlterTable
ALTER TABLE "RunStep" ADD COLUMN     "approval" JSONB,
ADD COLUMN     "approvalEscalatedAt" TIMESTAMP(3),
ADD COLUMN     "reusedFrom" INTEGER;

-- AlterTable
ALTER TABLE "StepAttempt" ADD COLUMN     "costUsd" DOUBLE PRECISION;

-- CreateTable
CREATE TABLE "BudgetLedger" (
    "scope" TEXT NOT NULL,
    "day" TEXT NOT NULL,
    "spentUsd" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "reservedUsd" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "BudgetLedger_pkey" PRIMARY KEY ("scope","day")
);

-- CreateIndex
CREATE INDEX "WorkflowRun_rerunOfId_idx" ON "WorkflowRun"("rerunOfId");

-- AddForeignKey
ALTER TABLE "WorkflowRun" ADD CONSTRAINT "WorkflowRun_rerunOfId_fkey" FOREIGN KEY ("rerunOfId") REFERENCES "WorkflowRun"("id") ON DELETE SET NULL ON UPDATE CASCADE;
