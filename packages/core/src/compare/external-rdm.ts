/**
 * An RDM measured elsewhere (brain data: fMRI voxel patterns, MEG, behaviour) over some of
 * the images Strata has features for, checked before it is correlated with layer RDMs.
 */

/** An M x M dissimilarity matrix over the images `ids` (row i and column i are image ids[i]). */
export interface ExternalRdm {
  readonly ids: readonly string[];
  /** M x M, row-major, float64. */
  readonly values: Float64Array;
  readonly size: number;
  /** Where it came from, for messages. */
  readonly label: string;
}

export interface RdmValidationOptions {
  /**
   * Allowed asymmetry |a_ij - a_ji| and diagonal |a_ii|, relative to the largest absolute
   * off-diagonal value. Default 1e-6 (float32 round-off passes, real asymmetry does not).
   */
  readonly tolerance?: number;
}

export const DEFAULT_RDM_TOLERANCE = 1e-6;

/** Checks shape, ids, finiteness, symmetry and the diagonal; returns the RDM or throws naming the cell. */
export function validateRdm(values: Float64Array, size: number, ids: readonly string[], label: string, options: RdmValidationOptions = {}): ExternalRdm {
  const tolerance = options.tolerance ?? DEFAULT_RDM_TOLERANCE;
  if (values.length !== size * size) {
    throw new RangeError(`${label}: ${values.length} values is not a square ${size} x ${size} matrix; an RDM must be square (images x images)`);
  }
  if (ids.length !== size) throw new RangeError(`${label}: ${ids.length} image ids for a ${size} x ${size} RDM; expected one id per row`);
  if (size < 3) throw new RangeError(`${label}: ${size} images; an RDM correlation needs at least 3 images (3 pairs)`);
  const seen = new Map<string, number>();
  ids.forEach((id, i) => {
    const before = seen.get(id);
    if (before !== undefined) throw new RangeError(`${label}: image id "${id}" appears twice (rows ${before} and ${i}); expected each image once`);
    seen.set(id, i);
  });
  let scale = 0;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      const v = values[i * size + j] as number;
      if (!Number.isFinite(v)) throw new RangeError(`${label}: cell [${ids[i]}, ${ids[j]}] (row ${i}, column ${j}) is ${v}; expected finite dissimilarities`);
      if (i !== j) scale = Math.max(scale, Math.abs(v));
    }
  }
  const allowed = tolerance * scale;
  for (let i = 0; i < size; i++) {
    const diagonal = values[i * size + i] as number;
    if (Math.abs(diagonal) > allowed) {
      const hint = Math.abs(diagonal - 1) < 1e-6 ? ' (a diagonal of 1 suggests a similarity/correlation matrix; pass 1 - r)' : '';
      throw new RangeError(`${label}: diagonal cell [${ids[i]}, ${ids[i]}] (row ${i}) is ${diagonal}; expected ~0 (an image's dissimilarity to itself, tolerance ${allowed.toExponential(2)})${hint}`);
    }
    for (let j = i + 1; j < size; j++) {
      const a = values[i * size + j] as number;
      const b = values[j * size + i] as number;
      if (Math.abs(a - b) > allowed) {
        throw new RangeError(
          `${label}: not symmetric: [${ids[i]}, ${ids[j]}] = ${a} but [${ids[j]}, ${ids[i]}] = ${b} (rows ${i} and ${j}; ` +
            `difference ${Math.abs(a - b).toExponential(3)} > tolerance ${allowed.toExponential(2)})`,
        );
      }
    }
  }
  return { ids, values, size, label };
}

/**
 * Row of each RDM image among the layer rows (images.json order), or an error listing the
 * ids no layer has.
 */
export function matchImageIds(rdmIds: readonly string[], layerIds: readonly string[], label: string): Int32Array {
  const rowOf = new Map<string, number>();
  layerIds.forEach((id, row) => {
    if (!rowOf.has(id)) rowOf.set(id, row);
  });
  const rows = new Int32Array(rdmIds.length);
  const unknown: string[] = [];
  rdmIds.forEach((id, i) => {
    const row = rowOf.get(id);
    if (row === undefined) unknown.push(id);
    else rows[i] = row;
  });
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).map((id) => JSON.stringify(id)).join(', ');
    const sample = layerIds.slice(0, 3).map((id) => JSON.stringify(id)).join(', ');
    throw new RangeError(
      `${label}: ${unknown.length} of ${rdmIds.length} image ids are not among the ${layerIds.length} images with features: ${shown}` +
        `${unknown.length > 5 ? ', ...' : ''} (feature ids look like ${sample})`,
    );
  }
  return rows;
}
