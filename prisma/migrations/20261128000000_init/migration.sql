-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('queued', 'running', 'paused', 'completed', 'cancelled', 'failed');

-- CreateEnum
CREATE TYPE "StepStatus" AS ENUM ('pending', 'running', 'paused', 'completed', 'skipped', 'cancelled', 'failed');

-- CreateEnum
CREATE TYPE "RunTrigger" AS ENUM ('slash', 'schedule', 'button', 'cli', 'api');

-- CreateEnum
CREATE TYPE "AttemptOutcome" AS ENUM ('success', 'error');

-- CreateTable
CREATE TABLE "Persona" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "system" TEXT NOT NULL,
    "source" TEXT NOT NULL DEFAULT 'file',
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Persona_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Workflow" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "personaId" TEXT,
    "provider" TEXT,
    "model" TEXT,
    "notify" TEXT,
    "owners" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "fallbacks" JSONB NOT NULL DEFAULT '[]',
    "retry" JSONB,
    "definition" JSONB NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "source" TEXT NOT NULL DEFAULT 'file',
    "sourcePath" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Workflow_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WorkflowStep" (
    "id" TEXT NOT NULL,
    "workflowId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "prompt" TEXT NOT NULL,
    "provider" TEXT,
    "model" TEXT,
    "personaId" TEXT,
    "fallbacks" JSONB NOT NULL DEFAULT '[]',
    "retry" JSONB,
    "timeoutSeconds" INTEGER,

    CONSTRAINT "WorkflowStep_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WorkflowRun" (
    "id" TEXT NOT NULL,
    "number" SERIAL NOT NULL,
    "workflowId" TEXT NOT NULL,
    "workflowName" TEXT NOT NULL,
    "snapshot" JSONB NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'queued',
    "input" TEXT NOT NULL DEFAULT '',
    "trigger" "RunTrigger" NOT NULL,
    "startedBy" TEXT NOT NULL,
    "channelId" TEXT,
    "threadTs" TEXT,
    "reason" TEXT,
    "version" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "WorkflowRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RunStep" (
    "id" TEXT NOT NULL,
    "runId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "prompt" TEXT NOT NULL,
    "provider" TEXT,
    "model" TEXT,
    "personaId" TEXT,
    "fallbacks" JSONB NOT NULL DEFAULT '[]',
    "retry" JSONB,
    "timeoutSeconds" INTEGER,
    "overrideProvider" TEXT,
    "overrideModel" TEXT,
    "overridePersonaId" TEXT,
    "status" "StepStatus" NOT NULL DEFAULT 'pending',
    "output" TEXT,
    "answeredProvider" TEXT,
    "answeredModel" TEXT,
    "personaUsed" TEXT,
    "finishReason" TEXT,
    "lastErrorKind" TEXT,
    "lastErrorMessage" TEXT,
    "lastErrorStatus" INTEGER,
    "lastErrorProvider" TEXT,
    "lastErrorModel" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "inputTokens" INTEGER NOT NULL DEFAULT 0,
    "outputTokens" INTEGER NOT NULL DEFAULT 0,
    "latencyMs" INTEGER,
    "slackTs" TEXT,
    "leaseOwner" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "version" INTEGER NOT NULL DEFAULT 0,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "RunStep_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "StepAttempt" (
    "id" TEXT NOT NULL,
    "runStepId" TEXT NOT NULL,
    "runId" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "provider" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "outcome" "AttemptOutcome" NOT NULL,
    "errorKind" TEXT,
    "httpStatus" INTEGER,
    "errorMessage" TEXT,
    "latencyMs" INTEGER NOT NULL,
    "inputTokens" INTEGER,
    "outputTokens" INTEGER,
    "startedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StepAttempt_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditEvent" (
    "id" TEXT NOT NULL,
    "runId" TEXT,
    "runStepId" TEXT,
    "workflow" TEXT,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "field" TEXT,
    "fromValue" TEXT,
    "toValue" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AuditEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Persona_name_key" ON "Persona"("name");

-- CreateIndex
CREATE UNIQUE INDEX "Workflow_name_key" ON "Workflow"("name");

-- CreateIndex
CREATE INDEX "Workflow_personaId_idx" ON "Workflow"("personaId");

-- CreateIndex
CREATE INDEX "WorkflowStep_personaId_idx" ON "WorkflowStep"("personaId");

-- CreateIndex
CREATE UNIQUE INDEX "WorkflowStep_workflowId_position_key" ON "WorkflowStep"("workflowId", "position");

-- CreateIndex
CREATE UNIQUE INDEX "WorkflowStep_workflowId_name_key" ON "WorkflowStep"("workflowId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "WorkflowRun_number_key" ON "WorkflowRun"("number");

-- CreateIndex
CREATE INDEX "WorkflowRun_status_updatedAt_idx" ON "WorkflowRun"("status", "updatedAt");

-- CreateIndex
CREATE INDEX "WorkflowRun_workflowId_createdAt_idx" ON "WorkflowRun"("workflowId", "createdAt");

-- CreateIndex
CREATE INDEX "WorkflowRun_channelId_threadTs_idx" ON "WorkflowRun"("channelId", "threadTs");

-- CreateIndex
CREATE INDEX "RunStep_status_leaseExpiresAt_idx" ON "RunStep"("status", "leaseExpiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "RunStep_runId_position_key" ON "RunStep"("runId", "position");

-- CreateIndex
CREATE INDEX "StepAttempt_provider_model_finishedAt_idx" ON "StepAttempt"("provider", "model", "finishedAt");

-- CreateIndex
CREATE INDEX "StepAttempt_runId_idx" ON "StepAttempt"("runId");

-- CreateIndex
CREATE UNIQUE INDEX "StepAttempt_runStepId_number_key" ON "StepAttempt"("runStepId", "number");

-- CreateIndex
CREATE INDEX "AuditEvent_runId_createdAt_idx" ON "AuditEvent"("runId", "createdAt");

-- CreateIndex
CREATE INDEX "AuditEvent_workflow_createdAt_idx" ON "AuditEvent"("workflow", "createdAt");

-- AddForeignKey
ALTER TABLE "Workflow" ADD CONSTRAINT "Workflow_personaId_fkey" FOREIGN KEY ("personaId") REFERENCES "Persona"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WorkflowStep" ADD CONSTRAINT "WorkflowStep_workflowId_fkey" FOREIGN KEY ("workflowId") REFERENCES "Workflow"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WorkflowStep" ADD CONSTRAINT "WorkflowStep_personaId_fkey" FOREIGN KEY ("personaId") REFERENCES "Persona"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WorkflowRun" ADD CONSTRAINT "WorkflowRun_workflowId_fkey" FOREIGN KEY ("workflowId") REFERENCES "Workflow"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RunStep" ADD CONSTRAINT "RunStep_runId_fkey" FOREIGN KEY ("runId") REFERENCES "WorkflowRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "StepAttempt" ADD CONSTRAINT "StepAttempt_runStepId_fkey" FOREIGN KEY ("runStepId") REFERENCES "RunStep"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "StepAttempt" ADD CONSTRAINT "StepAttempt_runId_fkey" FOREIGN KEY ("runId") REFERENCES "WorkflowRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AuditEvent" ADD CONSTRAINT "AuditEvent_runId_fkey" FOREIGN KEY ("runId") REFERENCES "WorkflowRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;
