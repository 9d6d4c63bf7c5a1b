// NSD-sized synthetic data whose layers mean something: every image has a colour class (what
// an early layer such as pool1 responds to) and a shape class (what a late layer such as pool5
// responds to); its pool1 vector lies near its colour class's centre and its pool5 vector near
// its shape class's centre, and the image itself is drawn from both classes. So neighbours in
// pool5 share a shape, neighbours in pool1 a colour, and the maps' mosaics show it.

export const COLOUR_CLASSES = 24;
export const SHAPE_CLASSES = 100;
const SHAPES = ['disc', 'square', 'diamond', 'ring'];

/** xorshift32 in [0, 1); Box-Muller normals. */
export function createRandom(seed) {
  let state = (seed >>> 0) ^ 0x9e3779b9 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, normal };
}

/** Colour and shape class of each of `count` images. */
export function imageClasses(count, seed = 1) {
  const random = createRandom(seed);
  const colour = new Uint8Array(count);
  const shape = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    colour[i] = Math.floor(random.next() * COLOUR_CLASSES);
    shape[i] = Math.floor(random.next() * SHAPE_CLASSES);
  }
  return { colour, shape };
}

/**
 * count x dimension float32 rows, row i near the centre of class labels[i]; component j scaled
 * by 1/sqrt(1 + j/8) like PCA output (as @strata/core/store's clusteredVectors).
 */
export function labelledVectors(labels, classes, dimension, { spread = 0.35, seed = 0 } = {}) {
  const random = createRandom(seed);
  const scale = Float64Array.from({ length: dimension }, (_, j) => 1 / Math.sqrt(1 + j / 8));
  const centres = new Float64Array(classes * dimension);
  for (let i = 0; i < centres.length; i++) centres[i] = random.normal() * scale[i % dimension];
  const out = new Float32Array(labels.length * dimension);
  for (let row = 0; row < labels.length; row++) {
    const centre = labels[row] * dimension;
    for (let j = 0; j < dimension; j++) out[row * dimension + j] = centres[centre + j] + spread * random.normal() * scale[j];
  }
  return out;
}

/** The two layers' vectors of the NSD-sized set (pool1 by colour, pool5 by shape). */
export function layerVectors(count, dimension, seed = 1) {
  const { colour, shape } = imageClasses(count, seed);
  return {
    pool1: labelledVectors(colour, COLOUR_CLASSES, dimension, { spread: 0.5, seed: seed + 11 }),
    pool5: labelledVectors(shape, SHAPE_CLASSES, dimension, { spread: 0.35, seed: seed + 23 }),
  };
}

function hsl(h, s, l) {
  const k = (n) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(255 * f(0)), Math.round(255 * f(8)), Math.round(255 * f(4))];
}

/**
 * Image i (size x size RGB): a diagonal gradient in its colour class's hue, and one to three
 * shapes of its shape class (family, size, count) in the opposite hue, placed at random.
 */
export function drawImage(i, colourClass, shapeClass, size, out = new Uint8Array(size * size * 3)) {
  const random = createRandom(i * 2654435761 + 17);
  const hue = (colourClass * 360) / COLOUR_CLASSES;
  const from = hsl(hue, 0.7, 0.35 + 0.1 * random.next());
  const to = hsl(hue + 20, 0.6, 0.7);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = (x + y) / (2 * size - 2);
      const p = 3 * (y * size + x);
      out[p] = from[0] + (to[0] - from[0]) * t;
      out[p + 1] = from[1] + (to[1] - from[1]) * t;
      out[p + 2] = from[2] + (to[2] - from[2]) * t;
    }
  }
  const family = SHAPES[shapeClass % SHAPES.length];
  const radius = size * (0.1 + 0.05 * (Math.floor(shapeClass / SHAPES.length) % 5));
  const shapes = 1 + (Math.floor(shapeClass / 20) % 3);
  const ink = hsl(hue + 180 + 40 * (shapeClass % 3), 0.8, 0.25 + 0.25 * (Math.floor(shapeClass / 60) % 2) + 0.3 * (shapeClass % 2));
  for (let s = 0; s < shapes; s++) {
    const cx = radius + random.next() * (size - 2 * radius);
    const cy = radius + random.next() * (size - 2 * radius);
    const x0 = Math.max(0, Math.floor(cx - radius));
    const x1 = Math.min(size - 1, Math.ceil(cx + radius));
    const y0 = Math.max(0, Math.floor(cy - radius));
    const y1 = Math.min(size - 1, Math.ceil(cy + radius));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        let inside;
        switch (family) {
          case 'disc':
            inside = dx * dx + dy * dy <= radius * radius;
            break;
          case 'square':
            inside = Math.abs(dx) <= radius * 0.85 && Math.abs(dy) <= radius * 0.85;
            break;
          case 'diamond':
            inside = Math.abs(dx) + Math.abs(dy) <= radius;
            break;
          default: {
            const r2 = dx * dx + dy * dy;
            inside = r2 <= radius * radius && r2 >= (radius * 0.6) ** 2;
          }
        }
        if (!inside) continue;
        const p = 3 * (y * size + x);
        out[p] = ink[0];
        out[p + 1] = ink[1];
        out[p + 2] = ink[2];
      }
    }
  }
  return out;
}

/** The images of the set, one RawImage at a time (for writeImageBrick). */
export function* syntheticImages(count, size, seed = 1) {
  const { colour, shape } = imageClasses(count, seed);
  for (let i = 0; i < count; i++) yield { data: drawImage(i, colour[i], shape[i], size), width: size, height: size, channels: 3 };
}
