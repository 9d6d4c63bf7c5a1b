/**
 * The linear assignment problem (minimum-cost perfect matching of a dense cost matrix) by
 * Jonker and Volgenant's algorithm, "A shortest augmenting path algorithm for dense and sparse
 * linear assignment problems", Computing 38 (1987): column reduction, reduction transfer, two
 * rounds of augmenting row reduction, then Dijkstra-like shortest augmenting paths for the rows
 * left free. O(n^3) in the worst case; on the geometric costs of grid layouts most rows are
 * settled by the cheap reductions, which is what makes it the usual choice for this job.
 *
 * Costs are a row-major Float64Array. Rectangular problems (fewer rows than columns, as when a
 * grid has spare cells) are padded with zero-cost rows, which leaves the optimum of the real
 * rows unchanged.
 */

export interface LapResult {
  /** Column assigned to each row. */
  readonly rowToColumn: Int32Array;
  /** Total cost of the assignment. */
  readonly cost: number;
}

/** Solves an n x n problem; `cost[i * n + j]` is the cost of row i taking column j. */
function solveSquare(cost: Float64Array, n: number): Int32Array {
  const rowsol = new Int32Array(n).fill(-1);
  const colsol = new Int32Array(n).fill(-1);
  if (n === 1) {
    rowsol[0] = 0;
    return rowsol;
  }
  const v = new Float64Array(n);
  const free = new Int32Array(n);
  const matches = new Int32Array(n);
  const collist = new Int32Array(n);
  const d = new Float64Array(n);
  const pred = new Int32Array(n);

  // Column reduction, in reverse column order (the paper's choice: it tends to leave fewer
  // rows free). v[j] is the column's minimum; a row keeps the column of smallest v it won.
  for (let j = n - 1; j >= 0; j--) {
    let min = cost[j] ?? 0;
    let imin = 0;
    for (let i = 1; i < n; i++) {
      const c = cost[i * n + j] ?? 0;
      if (c < min) {
        min = c;
        imin = i;
      }
    }
    v[j] = min;
    if (++matches[imin]! === 1) {
      rowsol[imin] = j;
      colsol[j] = imin;
    } else if (min < (v[rowsol[imin] ?? 0] ?? 0)) {
      const j1 = rowsol[imin] ?? 0;
      rowsol[imin] = j;
      colsol[j] = imin;
      colsol[j1] = -1;
    } else {
      colsol[j] = -1;
    }
  }

  // Reduction transfer: rows holding exactly one column pass the slack of their second-best
  // column onto it, so later augmenting paths start from tighter prices.
  let numfree = 0;
  for (let i = 0; i < n; i++) {
    const m = matches[i] ?? 0;
    if (m === 0) {
      free[numfree++] = i;
    } else if (m === 1) {
      const j1 = rowsol[i] ?? 0;
      let min = Number.POSITIVE_INFINITY;
      const base = i * n;
      for (let j = 0; j < n; j++) {
        if (j !== j1) {
          const h = (cost[base + j] ?? 0) - (v[j] ?? 0);
          if (h < min) min = h;
        }
      }
      v[j1] = (v[j1] ?? 0) - min;
    }
  }

  // Augmenting row reduction, twice. A free row takes its cheapest column (by reduced cost),
  // evicting the holder, and lowers that column's price by the gap to its second-best. With
  // floating-point costs, tiny gaps make rows evict each other for a very long time (on grid
  // costs, thousands of steps per row: most of the run time). So after 2n steps in a round an
  // evicted row waits for the next round or the augmentation instead of being handled at once;
  // this only changes the starting point of the exact phase below, never the optimum.
  for (let round = 0; round < 2; round++) {
    let k = 0;
    const previous = numfree;
    numfree = 0;
    let steps = 0;
    while (k < previous) {
      const i = free[k++] ?? 0;
      steps++;
      const base = i * n;
      let umin = (cost[base] ?? 0) - (v[0] ?? 0);
      let j1 = 0;
      let j2 = -1;
      let usubmin = Number.POSITIVE_INFINITY;
      for (let j = 1; j < n; j++) {
        const h = (cost[base + j] ?? 0) - (v[j] ?? 0);
        if (h < usubmin) {
          if (h >= umin) {
            usubmin = h;
            j2 = j;
          } else {
            usubmin = umin;
            umin = h;
            j2 = j1;
            j1 = j;
          }
        }
      }
      let i0 = colsol[j1] ?? -1;
      const lowers = umin < usubmin;
      if (lowers) {
        v[j1] = (v[j1] ?? 0) - (usubmin - umin);
      } else if (i0 > -1 && j2 >= 0) {
        // Tie: take the second-best column instead, to avoid evicting in circles.
        j1 = j2;
        i0 = colsol[j2] ?? -1;
      }
      rowsol[i] = j1;
      colsol[j1] = i;
      if (i0 > -1) {
        rowsol[i0] = -1;
        if (lowers && steps < 2 * n) free[--k] = i0;
        else free[numfree++] = i0;
      }
    }
  }

  // Augmentation: for each free row, a shortest path (Dijkstra over reduced costs, with the
  // columns at the current minimum distance scanned as a batch) to an unassigned column.
  for (let f = 0; f < numfree; f++) {
    const freerow = free[f] ?? 0;
    const fbase = freerow * n;
    for (let j = 0; j < n; j++) {
      d[j] = (cost[fbase + j] ?? 0) - (v[j] ?? 0);
      pred[j] = freerow;
      collist[j] = j;
    }
    let low = 0;
    let up = 0;
    let last = 0;
    let min = 0;
    let endofpath = -1;
    while (endofpath < 0) {
      if (up === low) {
        // Collect the columns at the smallest distance not yet scanned.
        last = low - 1;
        min = d[collist[up++] ?? 0] ?? 0;
        for (let k = up; k < n; k++) {
          const j = collist[k] ?? 0;
          const h = d[j] ?? 0;
          if (h <= min) {
            if (h < min) {
              up = low;
              min = h;
            }
            collist[k] = collist[up] ?? 0;
            collist[up++] = j;
          }
        }
        for (let k = low; k < up; k++) {
          const j = collist[k] ?? 0;
          if ((colsol[j] ?? -1) < 0) {
            endofpath = j;
            break;
          }
        }
      }
      if (endofpath < 0) {
        // Scan one column at the minimum: relax through the row that holds it.
        const j1 = collist[low++] ?? 0;
        const i = colsol[j1] ?? 0;
        const base = i * n;
        const h = (cost[base + j1] ?? 0) - (v[j1] ?? 0) - min;
        for (let k = up; k < n; k++) {
          const j = collist[k] ?? 0;
          const v2 = (cost[base + j] ?? 0) - (v[j] ?? 0) - h;
          if (v2 < (d[j] ?? 0)) {
            pred[j] = i;
            if (v2 === min) {
              if ((colsol[j] ?? -1) < 0) {
                endofpath = j;
                break;
              }
              collist[k] = collist[up] ?? 0;
              collist[up++] = j;
            }
            d[j] = v2;
          }
        }
      }
    }
    // Update the prices of the columns scanned before the last batch.
    for (let k = 0; k <= last; k++) {
      const j1 = collist[k] ?? 0;
      v[j1] = (v[j1] ?? 0) + (d[j1] ?? 0) - min;
    }
    // Flip the alternating path back to the free row.
    for (;;) {
      const i = pred[endofpath] ?? 0;
      colsol[endofpath] = i;
      const j1 = endofpath;
      endofpath = rowsol[i] ?? -1;
      rowsol[i] = j1;
      if (i === freerow) break;
    }
  }
  return rowsol;
}

/**
 * Minimum-cost assignment of `rows` rows to distinct columns among `columns` (rows <= columns).
 * `cost[i * columns + j]` is the cost of row i taking column j; it must be finite.
 */
export function solveAssignment(cost: Float64Array, rows: number, columns: number): LapResult {
  if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows < 0 || columns < rows) {
    throw new RangeError(`need integers 0 <= rows <= columns, got ${String(rows)} rows and ${String(columns)} columns`);
  }
  if (cost.length !== rows * columns) {
    throw new RangeError(`cost matrix has ${cost.length} entries, expected ${rows} x ${columns} = ${rows * columns}`);
  }
  for (let i = 0; i < cost.length; i++) {
    if (!Number.isFinite(cost[i])) throw new RangeError(`cost[${Math.floor(i / columns)}, ${i % columns}] is ${cost[i]}, costs must be finite`);
  }
  if (rows === 0) return { rowToColumn: new Int32Array(0), cost: 0 };
  const square = rows === columns ? cost : padRows(cost, rows, columns);
  const solution = solveSquare(square, columns);
  const rowToColumn = solution.slice(0, rows);
  let total = 0;
  for (let i = 0; i < rows; i++) total += cost[i * columns + (rowToColumn[i] ?? 0)] ?? 0;
  return { rowToColumn, cost: total };
}

/** The matrix with zero-cost rows appended to make it square. */
function padRows(cost: Float64Array, rows: number, columns: number): Float64Array {
  const square = new Float64Array(columns * columns);
  square.set(cost.subarray(0, rows * columns));
  return square;
}
