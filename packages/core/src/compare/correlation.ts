/**
 * Pearson and Spearman correlation of two equally long vectors (an RDM's upper triangle
 * against another's), in float64.
 */
import { centeredRanks } from './rank.js';

type Vector = Float32Array | Float64Array;

/** Pearson's r; throws when either vector is constant (r undefined), naming which. */
export function pearson(a: Vector, b: Vector, labels: readonly [string, string] = ['a', 'b']): number {
  if (a.length !== b.length) throw new RangeError(`${labels[0]} has ${a.length} values but ${labels[1]} has ${b.length}; expected the same length`);
  const n = a.length;
  if (n < 2) throw new RangeError(`correlation needs at least 2 values, got ${n}`);
  let meanA = 0;
  let meanB = 0;
  for (let i = 0; i < n; i++) {
    meanA += a[i] as number;
    meanB += b[i] as number;
  }
  meanA /= n;
  meanB /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = (a[i] as number) - meanA;
    const y = (b[i] as number) - meanB;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  if (!(saa > 0)) throw new RangeError(`${labels[0]} is constant (all ${n} values equal); its correlation is undefined`);
  if (!(sbb > 0)) throw new RangeError(`${labels[1]} is constant (all ${n} values equal); its correlation is undefined`);
  return sab / Math.sqrt(saa * sbb);
}

/** Pearson's r of two already centered rank vectors (see `centeredRanks`). */
export function correlateCenteredRanks(a: Vector, b: Vector, labels: readonly [string, string] = ['a', 'b']): number {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`${labels[0]} has ${n} values but ${labels[1]} has ${b.length}; expected the same length`);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  if (!(saa > 0)) throw new RangeError(`${labels[0]} is constant (all ${n} values tie); Spearman's rho is undefined`);
  if (!(sbb > 0)) throw new RangeError(`${labels[1]} is constant (all ${n} values tie); Spearman's rho is undefined`);
  return sab / Math.sqrt(saa * sbb);
}

/** Spearman's rho with ties averaged (scipy.stats.spearmanr). */
export function spearman(a: Float64Array, b: Float64Array, labels: readonly [string, string] = ['a', 'b']): number {
  if (a.length !== b.length) throw new RangeError(`${labels[0]} has ${a.length} values but ${labels[1]} has ${b.length}; expected the same length`);
  if (a.length < 2) throw new RangeError(`Spearman's rho needs at least 2 values, got ${a.length}`);
  return correlateCenteredRanks(centeredRanks(a, labels[0]), centeredRanks(b, labels[1]), labels);
}
