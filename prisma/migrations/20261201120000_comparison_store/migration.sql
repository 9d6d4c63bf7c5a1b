-- AlterTable
ALTER TABLE "comparison" ADD COLUMN     "exact" BOOLEAN NOT NULL,
ADD COLUMN     "images" INTEGER NOT NULL,
ADD COLUMN     "images_used" INTEGER NOT NULL,
ADD COLUMN     "inputs" TEXT NOT NULL,
ADD COLUMN     "key" TEXT NOT NULL,
ADD COLUMN     "p_value" DOUBLE PRECISION,
ALTER COLUMN "layer_b_id" DROP NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "comparison_key_key" ON "comparison"("key");
