/**
 * The committed GraphQL schema and generated resolver types agree, and every Query and
 * Mutation field of apps/api/schema.graphql has a resolver.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const API = join(ROOT, 'apps/api');

describe('apps/api schema', () => {
  it('has committed resolver types generated from the committed schema (npm run generate -w @strata/api)', () => {
    const result = spawnSync(join(ROOT, 'node_modules/.bin/graphql-codegen'), ['--config', 'codegen.yml', '--check'], { cwd: API, encoding: 'utf8' });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
  });

  it('has a resolver for every Query and Mutation field, and the fields other tools rely on', async () => {
    const schema = buildSchema(readFileSync(join(API, 'schema.graphql'), 'utf8'));
    const { resolvers } = (await import(join(API, 'dist/resolvers/index.js'))) as { resolvers: Record<string, Record<string, unknown>> };
    for (const [type, root] of [['Query', schema.getQueryType()], ['Mutation', schema.getMutationType()]] as const) {
      const fields = Object.keys(root?.getFields() ?? {});
      expect(fields.filter((field) => typeof resolvers[type]?.[field] !== 'function')).toEqual([]);
    }
    const query = Object.keys(schema.getQueryType()?.getFields() ?? {});
    expect(query).toEqual(
      expect.arrayContaining(['layers', 'datasets', 'dataset', 'images', 'image', 'nearestNeighbors', 'similarImages', 'tsneMap', 'compareLayers', 'layerSimilarityMatrix', 'run']),
    );
    const mutation = Object.keys(schema.getMutationType()?.getFields() ?? {});
    expect(mutation).toEqual(expect.arrayContaining(['createDataset', 'startExtraction', 'cancelRun', 'computeMap']));
  });
});
