/**
 * The VGG16 layer catalog: the 18 places in `torchvision.models.vgg16().features` whose
 * activations Strata extracts. conv1..conv13 are Conv outputs *before* ReLU (the ReLU is
 * applied in place in torchvision, so a forward hook on the Conv module sees pre-activation
 * values); pool1..pool5 are the MaxPool outputs.
 */
export type LayerKind = 'conv' | 'pool';

export interface LayerInfo {
  /** `conv1`..`conv13`, `pool1`..`pool5`. */
  readonly name: string;
  readonly kind: LayerKind;
  /** Index of the module in torchvision's `vgg16().features` Sequential. */
  readonly featuresIndex: number;
  /** Position among the layers of its kind, 1-based (conv7 -> 7). */
  readonly ordinal: number;
  /** Output shape for one 224 x 224 image: [channels, height, width]. */
  readonly shape: readonly [number, number, number];
  /** Flattened size, channels * height * width. */
  readonly dimension: number;
  /** Multiply-accumulate-based FLOPs (2 per MAC) from the input up to and including this layer. */
  readonly cumulativeGflops: number;
}

/** Channels of the conv blocks, 'M' marks a max-pool (torchvision's cfg "D"). */
const VGG16_CFG = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'] as const;

export const INPUT_SIZE = 224;

function buildCatalog(): LayerInfo[] {
  const layers: LayerInfo[] = [];
  let featuresIndex = 0;
  let channels = 3;
  let size = INPUT_SIZE;
  let conv = 0;
  let pool = 0;
  let flops = 0;
  for (const entry of VGG16_CFG) {
    if (entry === 'M') {
      size /= 2;
      pool += 1;
      layers.push({
        name: `pool${pool}`,
        kind: 'pool',
        featuresIndex,
        ordinal: pool,
        shape: [channels, size, size],
        dimension: channels * size * size,
        cumulativeGflops: flops / 1e9,
      });
      featuresIndex += 1;
    } else {
      flops += 2 * 9 * channels * entry * size * size;
      channels = entry;
      conv += 1;
      layers.push({
        name: `conv${conv}`,
        kind: 'conv',
        featuresIndex,
        ordinal: conv,
        shape: [channels, size, size],
        dimension: channels * size * size,
        cumulativeGflops: flops / 1e9,
      });
      featuresIndex += 2; // Conv2d then ReLU(inplace=True)
    }
  }
  return layers;
}

/** All 18 layers in network order. */
export const LAYERS: readonly LayerInfo[] = Object.freeze(buildCatalog());

const BY_NAME = new Map(LAYERS.map((layer) => [layer.name, layer]));

export function getLayer(name: string): LayerInfo {
  const layer = BY_NAME.get(name);
  if (!layer) {
    throw new RangeError(`Unknown layer "${name}"; expected one of ${LAYERS.map((l) => l.name).join(', ')}`);
  }
  return layer;
}

/**
 * Parses a comma-separated list such as "pool1,pool5" (or "all") into catalog entries in
 * network order, without duplicates.
 */
export function parseLayerList(spec: string | readonly string[]): LayerInfo[] {
  const names = typeof spec === 'string' ? spec.split(',') : spec;
  const wanted = new Set<string>();
  for (const raw of names) {
    const name = raw.trim();
    if (name === '') continue;
    if (name === 'all') {
      for (const layer of LAYERS) wanted.add(layer.name);
      continue;
    }
    wanted.add(getLayer(name).name);
  }
  if (wanted.size === 0) throw new RangeError('No layers given; expected e.g. "pool1,pool5" or "all"');
  return LAYERS.filter((layer) => wanted.has(layer.name));
}
