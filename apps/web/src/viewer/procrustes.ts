/**
 * Procrustes alignment of one 2-D map onto another (the same images in both), so that side-by-side
 * layers share an orientation. A small port of @strata/core/compare's procrustes (scipy's
 * definition: translate, rotate or reflect, scale; disparity of the unit-norm maps) specialised to
 * two dimensions, where the best rotation has a closed form and no SVD is needed; the core
 * module pulls in onnxruntime, which must not reach the browser.
 */

export interface Procrustes2D {
  /** The second map moved onto the first: aligned = scale * R (p - meanSecond) + meanFirst. */
  readonly alignedX: Float32Array;
  readonly alignedY: Float32Array;
  /** scipy.spatial.procrustes's disparity, 0 (same shape) to 1. */
  readonly disparity: number;
  /** Row-major 2 x 2 matrix applied to column vectors (p - meanSecond). */
  readonly rotation: readonly [number, number, number, number];
  readonly scale: number;
  readonly reflection: boolean;
  readonly meanFirst: readonly [number, number];
  readonly meanSecond: readonly [number, number];
}

export function procrustes2d(ax: ArrayLike<number>, ay: ArrayLike<number>, bx: ArrayLike<number>, by: ArrayLike<number>, options: { allowReflection?: boolean } = {}): Procrustes2D {
  const allowReflection = options.allowReflection ?? true;
  const n = ax.length;
  if (ay.length !== n || bx.length !== n || by.length !== n) throw new RangeError(`maps have ${n}, ${ay.length}, ${bx.length}, ${by.length} values; expected the same points in both`);
  if (n < 2) throw new RangeError(`Procrustes needs at least 2 points, got ${n}`);
  let max = 0;
  let may = 0;
  let mbx = 0;
  let mby = 0;
  for (let i = 0; i < n; i++) {
    max += ax[i] as number;
    may += ay[i] as number;
    mbx += bx[i] as number;
    mby += by[i] as number;
  }
  max /= n;
  may /= n;
  mbx /= n;
  mby /= n;
  // Sums over centred coordinates: norms and the cross terms of Aᵀ B.
  let na = 0;
  let nb = 0;
  let sxx = 0;
  let sxy = 0;
  let syx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const a0 = (ax[i] as number) - max;
    const a1 = (ay[i] as number) - may;
    const b0 = (bx[i] as number) - mbx;
    const b1 = (by[i] as number) - mby;
    na += a0 * a0 + a1 * a1;
    nb += b0 * b0 + b1 * b1;
    sxx += a0 * b0;
    sxy += a0 * b1;
    syx += a1 * b0;
    syy += a1 * b1;
  }
  if (!(na > 0) || !(nb > 0)) throw new RangeError('all points of a map coincide; Procrustes needs at least 2 distinct points');
  // Rotation by θ: Σ a·(R b) = C cos θ + S sin θ, at most hypot(C, S). Reflection (b1 -> -b1) first: C', S'.
  const c = sxx + syy;
  const s = syx - sxy;
  const cr = sxx - syy;
  const sr = syx + sxy;
  const rotFit = Math.hypot(c, s);
  const refFit = Math.hypot(cr, sr);
  const reflection = allowReflection && refFit > rotFit;
  const theta = reflection ? Math.atan2(sr, cr) : Math.atan2(s, c);
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  // R = rot(θ) · diag(1, ±1)
  const flip = reflection ? -1 : 1;
  const rotation: [number, number, number, number] = [cos, -sin * flip, sin, cos * flip];
  const fit = (reflection ? refFit : rotFit) / Math.sqrt(na * nb);
  const scale = (fit * Math.sqrt(na)) / Math.sqrt(nb);
  const alignedX = new Float32Array(n);
  const alignedY = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const b0 = (bx[i] as number) - mbx;
    const b1 = (by[i] as number) - mby;
    alignedX[i] = scale * (rotation[0] * b0 + rotation[1] * b1) + max;
    alignedY[i] = scale * (rotation[2] * b0 + rotation[3] * b1) + may;
  }
  // Disparity of the standardized maps: 1 - fit² (both have unit norm, the fit is their inner product).
  return { alignedX, alignedY, disparity: Math.max(0, 1 - fit * fit), rotation, scale, reflection, meanFirst: [max, may], meanSecond: [mbx, mby] };
}
