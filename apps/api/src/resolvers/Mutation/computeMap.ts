import { jobKey, type MapParams } from '@strata/core/jobs';
import { latestJob } from '@strata/core/store';
import type { MutationResolvers } from '../../generated/resolvers.js';
import { badInput } from '../../errors.js';
import type { ApiContext } from '../../context.js';
import type { DatasetModel } from '../../models.js';
import { checkLayer, requireCompute, requireDataset } from '../helpers.js';

export function checkMapParams(perplexity: number, seed: number): { perplexity: number; seed: number } {
  if (!Number.isFinite(perplexity) || perplexity < 1 || perplexity > 1000) throw badInput(`perplexity must be from 1 to 1000, got ${perplexity}`, { argument: 'perplexity' });
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1) throw badInput(`seed must be a non-negative integer, got ${seed}`, { argument: 'seed' });
  return { perplexity, seed };
}

/** A layer of the dataset that is ready (extracted and indexed), or BAD_USER_INPUT saying what it is. */
export async function requireReadyLayer(context: ApiContext, dataset: DatasetModel, name: string, argument: string): Promise<string> {
  const layer = checkLayer(name, argument).name;
  const layers = await context.loaders.layers.load(dataset.id);
  const row = layers.find((candidate) => candidate.layer === layer);
  if (!row || row.status !== 'ready') {
    const have = layers.map((candidate) => `${candidate.layer} (${candidate.status})`).join(', ') || 'none yet';
    throw badInput(`layer ${layer} of dataset "${dataset.name}" is not ready${row ? ` (status ${row.status})` : ''}; its layers: ${have}. Run startExtraction first`, { argument });
  }
  return layer;
}

export const computeMap: MutationResolvers['computeMap'] = async (_parent, args, context) => {
  const dataset = await requireDataset(context, args.datasetId);
  requireCompute(context, dataset, 'computeMap');
  const layer = await requireReadyLayer(context, dataset, args.layer, 'layer');
  const { perplexity, seed } = checkMapParams(args.perplexity ?? 30, args.seed ?? 0);
  if (args.iterations != null && (!Number.isInteger(args.iterations) || args.iterations < 50 || args.iterations > 10_000)) {
    throw badInput(`iterations must be an integer from 50 to 10000, got ${args.iterations}`, { argument: 'iterations' });
  }
  const params: MapParams = {
    dataset: dataset.name,
    layer,
    perplexity,
    seed,
    ...(args.iterations != null ? { iterations: args.iterations } : {}),
    mosaic: args.mosaic ?? true,
    atlas: args.atlas ?? true,
  };
  if (!args.force) {
    const existing = await latestJob(context.services.store, jobKey({ kind: 'map', params }, dataset.id), ['queued', 'running', 'done']);
    if (existing) return existing;
  }
  return context.services.queue.enqueue({ datasetId: dataset.id, owner: context.principal.user, job: { kind: 'map', params } });
};
