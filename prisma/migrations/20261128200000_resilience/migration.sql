-- AlterEnum
ALTER TYPE "AttemptOutcome" ADD VALUE 'skipped';

-- AlterTable
ALTER TABLE "WorkflowRun" ADD COLUMN     "requestKey" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "WorkflowRun_requestKey_key" ON "WorkflowRun"("requestKey");

-- CreateIndex
CREATE INDEX "StepAttempt_finishedAt_idx" ON "StepAttempt"("finishedAt");
