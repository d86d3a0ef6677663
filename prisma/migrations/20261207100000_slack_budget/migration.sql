-- CreateTable
CREATE TABLE "SlackBudget" (
    "key" TEXT NOT NULL,
    "tokens" DOUBLE PRECISION NOT NULL,
    "atMs" DOUBLE PRECISION NOT NULL,
    "pausedUntilMs" DOUBLE PRECISION NOT NULL DEFAULT 0,

    CONSTRAINT "SlackBudget_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "SlackReplica" (
    "id" TEXT NOT NULL,
    "seenAtMs" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "SlackReplica_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SlackPendingRun" (
    "runId" TEXT NOT NULL,
    "replica" TEXT NOT NULL,
    "atMs" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "SlackPendingRun_pkey" PRIMARY KEY ("runId")
);

-- CreateIndex
CREATE INDEX "SlackPendingRun_replica_idx" ON "SlackPendingRun"("replica");
