-- CreateEnum
CREATE TYPE "ScheduleOverlap" AS ENUM ('skip', 'queue');

-- CreateEnum
CREATE TYPE "ScheduleMissedPolicy" AS ENUM ('run_once', 'skip');

-- CreateEnum
CREATE TYPE "ScheduleFiringOutcome" AS ENUM ('started', 'skipped_overlap', 'queued', 'missed_run', 'missed_skipped', 'failed');

-- CreateTable
CREATE TABLE "Schedule" (
    "id" TEXT NOT NULL,
    "number" SERIAL NOT NULL,
    "workflowId" TEXT NOT NULL,
    "source" TEXT NOT NULL DEFAULT 'slack',
    "position" INTEGER,
    "cron" TEXT NOT NULL,
    "timezone" TEXT NOT NULL,
    "channelId" TEXT NOT NULL,
    "input" TEXT NOT NULL DEFAULT '',
    "overlap" "ScheduleOverlap" NOT NULL DEFAULT 'skip',
    "missedPolicy" "ScheduleMissedPolicy" NOT NULL DEFAULT 'run_once',
    "pauseTimeoutMinutes" INTEGER,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "paused" BOOLEAN NOT NULL DEFAULT false,
    "createdBy" TEXT NOT NULL,
    "lastFiredAt" TIMESTAMP(3),
    "nextFireAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Schedule_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScheduleFiring" (
    "id" TEXT NOT NULL,
    "scheduleId" TEXT NOT NULL,
    "fireAt" TIMESTAMP(3) NOT NULL,
    "outcome" "ScheduleFiringOutcome" NOT NULL,
    "runId" TEXT,
    "startedAt" TIMESTAMP(3),
    "detail" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ScheduleFiring_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Schedule_number_key" ON "Schedule"("number");

-- CreateIndex
CREATE INDEX "Schedule_enabled_paused_nextFireAt_idx" ON "Schedule"("enabled", "paused", "nextFireAt");

-- CreateIndex
CREATE UNIQUE INDEX "Schedule_workflowId_position_key" ON "Schedule"("workflowId", "position");

-- CreateIndex
CREATE INDEX "ScheduleFiring_outcome_startedAt_idx" ON "ScheduleFiring"("outcome", "startedAt");

-- CreateIndex
CREATE INDEX "ScheduleFiring_runId_idx" ON "ScheduleFiring"("runId");

-- CreateIndex
CREATE UNIQUE INDEX "ScheduleFiring_scheduleId_fireAt_key" ON "ScheduleFiring"("scheduleId", "fireAt");

-- AddForeignKey
ALTER TABLE "Schedule" ADD CONSTRAINT "Schedule_workflowId_fkey" FOREIGN KEY ("workflowId") REFERENCES "Workflow"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScheduleFiring" ADD CONSTRAINT "ScheduleFiring_scheduleId_fkey" FOREIGN KEY ("scheduleId") REFERENCES "Schedule"("id") ON DELETE CASCADE ON UPDATE CASCADE;
