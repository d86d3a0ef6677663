-- AlterTable
ALTER TABLE "RunStep" ADD COLUMN     "liveTs" TEXT,
ADD COLUMN     "noteTs" TEXT;
