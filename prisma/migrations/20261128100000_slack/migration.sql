-- AlterTable
ALTER TABLE "RunStep" ADD COLUMN     "alertChannel" TEXT,
ADD COLUMN     "alertTs" TEXT;
