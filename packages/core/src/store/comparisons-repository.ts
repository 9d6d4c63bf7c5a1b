/**
 * The comparison repository: every read and write of `comparison` rows, and the reads a
 * comparison of stored layers needs (which images a layer has vectors for, those vectors in a
 * given order).
 *
 * A row answers one question, named by its `key`: canonical JSON of the metric, the layer ids
 * (ascending, for the symmetric metrics) and every parameter that changes the value (k, seed,
 * sample sizes, the external RDM's sha256). `inputs` fingerprints what it was computed from:
 * each layer's PCA basis sha256 and vector count. A row is reused while its inputs match the
 * layers' current ones; once a layer is re-ingested (another basis) or gains vectors, the row is
 * stale and the next request recomputes it and overwrites it in place.
 */
import { createHash } from 'node:crypto';
import type { Prisma, PrismaClient } from './generated/client.js';
import { readVectors, type VectorSpace } from './vectors.js';

type Db = PrismaClient | Prisma.TransactionClient;

/** The metrics a row can hold: layer pairs, and `rdm` for a layer against an external RDM. */
export type StoredComparisonMetric = 'cka' | 'cka-debiased' | 'rsa' | 'knn' | 'rdm';

/** What a layer contributes to a comparison's inputs. */
export interface ComparedLayer {
  readonly id: number;
  readonly layer: string;
  /** sha256 of the layer's PCA basis file; null for vectors stored without one. */
  readonly basisSha256: string | null;
  readonly vectorCount: number;
}

/** One question: a metric over one layer pair (or one layer and an external RDM), with its parameters. */
export interface ComparisonQuestion {
  readonly metric: StoredComparisonMetric;
  readonly layerA: ComparedLayer;
  /** Null for `rdm`. */
  readonly layerB: ComparedLayer | null;
  /** Everything besides the layers that changes the value; numbers, strings, booleans. */
  readonly params: Readonly<Record<string, string | number | boolean>>;
}

export interface ComparisonAnswer {
  readonly value: number;
  readonly pValue?: number | null;
  readonly images: number;
  readonly imagesUsed: number;
  readonly exact: boolean;
}

export interface StoredComparison extends ComparisonAnswer {
  readonly id: number;
  readonly key: string;
  readonly metric: string;
  readonly layerAId: number;
  readonly layerBId: number | null;
  readonly pValue: number | null;
  readonly params: Record<string, unknown>;
  readonly createdAt: Date;
  /** The fingerprint of the vectors it was computed from (comparisonInputs). */
  readonly inputs: string;
  /** True when the row's inputs differ from the layers' current ones. */
  readonly stale: boolean;
}

/** The pair in id order: CKA, RSA and kNN overlap are symmetric, so (a, b) and (b, a) share a row. */
function ordered(question: ComparisonQuestion): [ComparedLayer, ComparedLayer | null] {
  const { layerA, layerB } = question;
  return layerB !== null && layerB.id < layerA.id ? [layerB, layerA] : [layerA, layerB];
}

function canonicalParams(params: ComparisonQuestion['params']): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const name of Object.keys(params).sort()) {
    const value = params[name];
    if (value === undefined) continue;
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`comparison parameter ${name} is ${value}; expected a finite number`);
    out[name] = value;
  }
  return out;
}

export function comparisonKey(question: ComparisonQuestion): string {
  const [a, b] = ordered(question);
  return JSON.stringify({ metric: question.metric, layers: b === null ? [a.id] : [a.id, b.id], params: canonicalParams(question.params) });
}

export function comparisonInputs(question: ComparisonQuestion): string {
  const layers = ordered(question).filter((layer): layer is ComparedLayer => layer !== null);
  return createHash('sha256')
    .update(JSON.stringify(layers.map((layer) => [layer.id, layer.basisSha256, layer.vectorCount])))
    .digest('hex');
}

function toStored(row: Prisma.ComparisonGetPayload<object>, inputs: string | undefined): StoredComparison {
  return {
    id: row.id,
    key: row.key,
    metric: row.metric,
    layerAId: row.layerAId,
    layerBId: row.layerBId,
    value: row.value,
    pValue: row.pValue,
    images: row.images,
    imagesUsed: row.imagesUsed,
    exact: row.exact,
    params: (row.params ?? {}) as Record<string, unknown>,
    createdAt: row.createdAt,
    inputs: row.inputs,
    stale: inputs !== undefined && row.inputs !== inputs,
  };
}

/** The stored rows for these questions (stale ones included, marked), by key. */
export async function findComparisons(db: Db, questions: readonly ComparisonQuestion[]): Promise<Map<string, StoredComparison>> {
  const inputs = new Map(questions.map((question) => [comparisonKey(question), comparisonInputs(question)]));
  const out = new Map<string, StoredComparison>();
  if (inputs.size === 0) return out;
  const rows = await db.comparison.findMany({ where: { key: { in: [...inputs.keys()] } } });
  for (const row of rows) out.set(row.key, toStored(row, inputs.get(row.key)));
  return out;
}

/**
 * Stores answers, replacing the rows of the same questions (stale ones, or a concurrent
 * computation's), in one transaction. Returns the rows as stored.
 */
export async function saveComparisons(
  db: PrismaClient,
  datasetId: number,
  answers: readonly { readonly question: ComparisonQuestion; readonly answer: ComparisonAnswer }[],
): Promise<StoredComparison[]> {
  return db.$transaction(async (tx) => {
    const saved: StoredComparison[] = [];
    for (const { question, answer } of answers) {
      const [a, b] = ordered(question);
      const key = comparisonKey(question);
      const inputs = comparisonInputs(question);
      const params = {
        ...canonicalParams(question.params),
        layers: b === null ? [a.layer] : [a.layer, b.layer],
        basisSha256: b === null ? [a.basisSha256] : [a.basisSha256, b.basisSha256],
        vectorCounts: b === null ? [a.vectorCount] : [a.vectorCount, b.vectorCount],
      };
      const data = {
        datasetId,
        layerAId: a.id,
        layerBId: b?.id ?? null,
        metric: question.metric,
        value: answer.value,
        pValue: answer.pValue ?? null,
        inputs,
        images: answer.images,
        imagesUsed: answer.imagesUsed,
        exact: answer.exact,
        params,
        createdAt: new Date(),
      };
      const row = await tx.comparison.upsert({ where: { key }, create: { ...data, key }, update: data });
      saved.push(toStored(row, inputs));
    }
    return saved;
  });
}

/** Every stored comparison of a dataset, newest first (stale ones are not told apart here). */
export async function listComparisonRows(db: Db, datasetId: number): Promise<StoredComparison[]> {
  const rows = await db.comparison.findMany({ where: { datasetId }, orderBy: { id: 'desc' } });
  return rows.map((row) => toStored(row, undefined));
}

/** Database ids of the images a layer has vectors for, ascending. */
export async function layerImageIds(db: Db, datasetLayerId: number): Promise<Int32Array> {
  const rows = await db.featureVector.findMany({ where: { datasetLayerId }, select: { imageId: true }, orderBy: { imageId: 'asc' } });
  return Int32Array.from(rows, (row) => row.imageId);
}

/** A dataset's images (database id and source id), by database id. */
export async function datasetImageIds(db: Db, datasetId: number): Promise<{ ids: Int32Array; sourceIds: string[] }> {
  const rows = await db.image.findMany({ where: { datasetId }, select: { id: true, sourceId: true }, orderBy: { id: 'asc' } });
  return { ids: Int32Array.from(rows, (row) => row.id), sourceIds: rows.map((row) => row.sourceId) };
}

/**
 * The vectors of these images (any order) as rows in that order, columns [colStart, colEnd).
 * Every image must have a vector in the layer. One query: keep `imageIds` to a few thousand.
 */
export async function readVectorRows(db: Db, space: VectorSpace, imageIds: Int32Array, colStart = 0, colEnd = space.dimension): Promise<Float32Array> {
  const { imageIds: found, vectors } = await readVectors(db, space, Array.from(imageIds));
  const rowOf = new Map<number, number>();
  found.forEach((id, row) => rowOf.set(id, row));
  const width = colEnd - colStart;
  const out = new Float32Array(imageIds.length * width);
  for (let i = 0; i < imageIds.length; i++) {
    const row = rowOf.get(imageIds[i] as number);
    if (row === undefined) throw new Error(`image ${imageIds[i]} has no vector in dataset layer ${space.id}; was the layer changed during the comparison?`);
    const from = row * space.dimension + colStart;
    out.set(vectors.subarray(from, from + width), i * width);
  }
  return out;
}
