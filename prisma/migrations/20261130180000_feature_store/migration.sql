-- CreateExtension
CREATE EXTENSION IF NOT EXISTS "vector";

-- CreateEnum
CREATE TYPE "SourceKind" AS ENUM ('hdf5', 'folder');

-- CreateEnum
CREATE TYPE "LayerStatus" AS ENUM ('sampling', 'ingesting', 'indexing', 'ready', 'failed');

-- CreateEnum
CREATE TYPE "RunKind" AS ENUM ('ingest', 'map', 'compare');

-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('running', 'done', 'failed');

-- CreateTable
CREATE TABLE "dataset" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "source_kind" "SourceKind" NOT NULL,
    "source_path" TEXT NOT NULL,
    "source_dataset" TEXT,
    "image_count" INTEGER NOT NULL,
    "model_id" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dataset_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "image" (
    "id" SERIAL NOT NULL,
    "dataset_id" INTEGER NOT NULL,
    "index" INTEGER NOT NULL,
    "source_id" TEXT NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "thumbnail" BYTEA,
    "thumbnail_path" TEXT,

    CONSTRAINT "image_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "model" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "model_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "dataset_layer" (
    "id" SERIAL NOT NULL,
    "dataset_id" INTEGER NOT NULL,
    "layer" TEXT NOT NULL,
    "model_id" INTEGER NOT NULL,
    "pca_basis_id" INTEGER,
    "components" INTEGER NOT NULL,
    "status" "LayerStatus" NOT NULL DEFAULT 'sampling',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "dataset_layer_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pca_basis" (
    "id" SERIAL NOT NULL,
    "path" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "components" INTEGER NOT NULL,
    "dimension" INTEGER NOT NULL,
    "sample_count" INTEGER NOT NULL,
    "seed" INTEGER NOT NULL,
    "whiten" BOOLEAN NOT NULL,
    "center" BOOLEAN NOT NULL,
    "explained_variance_ratio" DOUBLE PRECISION[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pca_basis_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "feature_vector" (
    "dataset_layer_id" INTEGER NOT NULL,
    "image_id" INTEGER NOT NULL,
    "vector" vector,

    CONSTRAINT "feature_vector_pkey" PRIMARY KEY ("dataset_layer_id","image_id")
);

-- CreateTable
CREATE TABLE "run" (
    "id" SERIAL NOT NULL,
    "kind" "RunKind" NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'running',
    "dataset_id" INTEGER,
    "phase" TEXT,
    "done" INTEGER NOT NULL DEFAULT 0,
    "total" INTEGER NOT NULL DEFAULT 0,
    "rate" DOUBLE PRECISION,
    "errors" JSONB NOT NULL DEFAULT '[]',
    "params" JSONB NOT NULL DEFAULT '{}',
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "map" (
    "id" SERIAL NOT NULL,
    "dataset_layer_id" INTEGER NOT NULL,
    "run_id" INTEGER,
    "method" TEXT NOT NULL,
    "perplexity" DOUBLE PRECISION NOT NULL,
    "seed" INTEGER NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'running',
    "coordinates" BYTEA,
    "image_ids" BYTEA,
    "mosaic_path" TEXT,
    "params" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "map_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "comparison" (
    "id" SERIAL NOT NULL,
    "dataset_id" INTEGER NOT NULL,
    "layer_a_id" INTEGER NOT NULL,
    "layer_b_id" INTEGER NOT NULL,
    "metric" TEXT NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "params" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "comparison_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "dataset_name_key" ON "dataset"("name");

-- CreateIndex
CREATE UNIQUE INDEX "image_dataset_id_index_key" ON "image"("dataset_id", "index");

-- CreateIndex
CREATE UNIQUE INDEX "image_dataset_id_source_id_key" ON "image"("dataset_id", "source_id");

-- CreateIndex
CREATE UNIQUE INDEX "model_sha256_key" ON "model"("sha256");

-- CreateIndex
CREATE UNIQUE INDEX "dataset_layer_dataset_id_layer_key" ON "dataset_layer"("dataset_id", "layer");

-- CreateIndex
CREATE INDEX "feature_vector_image_id_idx" ON "feature_vector"("image_id");

-- CreateIndex
CREATE INDEX "run_dataset_id_kind_idx" ON "run"("dataset_id", "kind");

-- CreateIndex
CREATE INDEX "map_dataset_layer_id_idx" ON "map"("dataset_layer_id");

-- CreateIndex
CREATE INDEX "comparison_dataset_id_idx" ON "comparison"("dataset_id");

-- AddForeignKey
ALTER TABLE "dataset" ADD CONSTRAINT "dataset_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "model"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "image" ADD CONSTRAINT "image_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dataset_layer" ADD CONSTRAINT "dataset_layer_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dataset_layer" ADD CONSTRAINT "dataset_layer_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "model"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dataset_layer" ADD CONSTRAINT "dataset_layer_pca_basis_id_fkey" FOREIGN KEY ("pca_basis_id") REFERENCES "pca_basis"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "feature_vector" ADD CONSTRAINT "feature_vector_dataset_layer_id_fkey" FOREIGN KEY ("dataset_layer_id") REFERENCES "dataset_layer"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "feature_vector" ADD CONSTRAINT "feature_vector_image_id_fkey" FOREIGN KEY ("image_id") REFERENCES "image"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run" ADD CONSTRAINT "run_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "map" ADD CONSTRAINT "map_dataset_layer_id_fkey" FOREIGN KEY ("dataset_layer_id") REFERENCES "dataset_layer"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "map" ADD CONSTRAINT "map_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "run"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "comparison" ADD CONSTRAINT "comparison_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "comparison" ADD CONSTRAINT "comparison_layer_a_id_fkey" FOREIGN KEY ("layer_a_id") REFERENCES "dataset_layer"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "comparison" ADD CONSTRAINT "comparison_layer_b_id_fkey" FOREIGN KEY ("layer_b_id") REFERENCES "dataset_layer"("id") ON DELETE CASCADE ON UPDATE CASCADE;
