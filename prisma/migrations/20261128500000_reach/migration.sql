-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "RunTrigger" ADD VALUE 'shortcut';
ALTER TYPE "RunTrigger" ADD VALUE 'workflow_step';

-- AlterTable
ALTER TABLE "WorkflowRun" ADD COLUMN     "inThreadTs" TEXT;

-- CreateTable
CREATE TABLE "FunctionExecution" (
    "id" TEXT NOT NULL,
    "callbackId" TEXT NOT NULL,
    "workflow" TEXT NOT NULL,
    "token" TEXT NOT NULL,
    "outcome" TEXT,
    "error" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completedAt" TIMESTAMP(3),

    CONSTRAINT "FunctionExecution_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "FunctionExecution_outcome_createdAt_idx" ON "FunctionExecution"("outcome", "createdAt");
