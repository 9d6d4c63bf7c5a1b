import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AtlasResolvers, MapPointResolvers, TsneMapResolvers } from '../../generated/resolvers.js';
import { notFound } from '../../errors.js';
import { checkPage, fileUrl } from '../helpers.js';

export const TsneMap: TsneMapResolvers = {
  id: (model) => (model.map ? String(model.map.id) : null),
  status: (model) => model.status,
  run: (model) => model.job,
  klDivergence: (model) => model.map?.klDivergence ?? null,
  pointCount: (model) => model.map?.imageIds.length ?? 0,
  points: (model, args) => {
    const { offset, limit } = checkPage(args.offset ?? 0, args.limit ?? 100);
    const map = model.map;
    if (!map) return [];
    const end = Math.min(map.imageIds.length, offset + limit);
    const points = [];
    for (let i = offset; i < end; i++) points.push({ imageId: map.imageIds[i] as number, x: map.x[i] as number, y: map.y[i] as number });
    return points;
  },
  columns: (model) => (model.map ? { imageIds: Array.from(model.map.imageIds), x: Array.from(model.map.x), y: Array.from(model.map.y) } : null),
  mosaicUrl: async (model, _args, context) => {
    if (!model.map?.mosaicPath || !(await stat(model.map.mosaicPath).catch(() => null))) return null;
    return fileUrl(context, `/files/maps/${model.map.id}/mosaic.png`);
  },
  atlas: async (model) => {
    if (!model.map?.atlasDir) return null;
    const indexPath = join(model.map.atlasDir, 'atlas.json');
    return (await stat(indexPath).catch(() => null)) ? { mapId: model.map.id, indexPath } : null;
  },
};

export const MapPoint: MapPointResolvers = {
  imageId: (point) => String(point.imageId),
  image: async (point, _args, context) => {
    const image = await context.loaders.image.load(point.imageId);
    if (!image) throw notFound(`image ${point.imageId} of the map no longer exists`);
    return image;
  },
};

const atlasCache = new Map<string, { mtimeMs: number; value: unknown }>();

export const Atlas: AtlasResolvers = {
  indexUrl: (atlas, _args, context) => fileUrl(context, `/files/maps/${atlas.mapId}/atlas/atlas.json`),
  index: async (atlas) => {
    const info = await stat(atlas.indexPath);
    const cached = atlasCache.get(atlas.indexPath);
    if (cached && cached.mtimeMs === info.mtimeMs) return cached.value;
    const value: unknown = JSON.parse(await readFile(atlas.indexPath, 'utf8'));
    atlasCache.set(atlas.indexPath, { mtimeMs: info.mtimeMs, value });
    return value;
  },
};
