-- AlterTable
ALTER TABLE "map" ADD COLUMN     "error" TEXT,
ADD COLUMN     "finished_at" TIMESTAMPTZ(3),
ADD COLUMN     "iterations" INTEGER NOT NULL DEFAULT 1000,
ADD COLUMN     "kl_divergence" DOUBLE PRECISION,
ADD COLUMN     "point_count" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- CreateIndex
CREATE UNIQUE INDEX "map_dataset_layer_id_perplexity_seed_iterations_method_key" ON "map"("dataset_layer_id", "perplexity", "seed", "iterations", "method");
