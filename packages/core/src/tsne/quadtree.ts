/**
 * Barnes-Hut quadtree over the 2-D embedding, flattened in pre-order so that a traversal is a
 * loop without a stack: from node `nd`, `nd + 1` descends and `skip` jumps past the subtree.
 * Cells halve the bounding rectangle (as sklearn's _QuadTree does) until a cell holds one
 * point; coincident points end in one leaf (or at the depth limit). One array per field (a
 * packed node array measured 1.5x slower to traverse). The arrays live in shared memory:
 * worker threads traverse the tree the calling thread built.
 */
import { sharedFloat64, sharedInt32 } from './buffers.js';

/** Beyond this depth cells are narrower than float64 can split; remaining points share a leaf. */
const MAX_DEPTH = 48;
/**
 * Largest group: the repulsion walks the tree once per group of at most this many points (the
 * largest cells of at most GROUP_SIZE points), not once per point (gradient-bh.ts). 64 measured
 * fastest at 5,000 points (32: 6 % slower, 16: 40 %); larger groups also lengthen the
 * interaction lists.
 */
export const GROUP_SIZE = 64;

export interface QuadTreeArrays {
  nodeCount: number;
  /** Centre of mass of each cell. */
  comX: Float64Array;
  comY: Float64Array;
  /** Number of points in each cell. */
  size: Float64Array;
  /**
   * Square of the cell's larger side (sklearn's squared_max_width). Leaves of one point, or of
   * coincident points, store 0: they are always summaries, except seen from their own position.
   */
  widthSq: Float64Array;
  /** Index of the first node after the subtree. */
  skip: Int32Array;
  /** The points in tree order: consecutive points are close, which keeps traversals in cache. */
  order: Int32Array;
  /**
   * Number of groups: the largest cells of at most GROUP_SIZE points, in pre-order (and leaves
   * of more coincident points than that).
   */
  groupCount: number;
  /** Each group's node. */
  groupNode: Int32Array;
  /** Where each group's points start in `order` (groupCount + 1 entries: they tile 0 .. n). */
  groupStart: Int32Array;
}

export class QuadTree implements QuadTreeArrays {
  nodeCount = 0;
  comX: Float64Array;
  comY: Float64Array;
  size: Float64Array;
  widthSq: Float64Array;
  skip: Int32Array;
  order: Int32Array;
  groupCount = 0;
  groupNode: Int32Array;
  groupStart: Int32Array;
  private capacity = 0;
  private ordered = false;
  private y: Float64Array = new Float64Array(0);

  constructor(readonly n: number) {
    this.order = sharedInt32(n);
    this.groupNode = sharedInt32(n);
    this.groupStart = sharedInt32(n + 1);
    this.comX = this.comY = this.size = this.widthSq = new Float64Array(0);
    this.skip = new Int32Array(0);
    this.grow(2 * n + 16);
  }

  private grow(capacity: number): void {
    const copyF = (old: Float64Array): Float64Array => {
      const next = sharedFloat64(capacity);
      next.set(old.subarray(0, this.nodeCount));
      return next;
    };
    this.comX = copyF(this.comX);
    this.comY = copyF(this.comY);
    this.size = copyF(this.size);
    this.widthSq = copyF(this.widthSq);
    const skip = sharedInt32(capacity);
    skip.set(this.skip.subarray(0, this.nodeCount));
    this.skip = skip;
    this.capacity = capacity;
  }

  /** Rebuilds the tree for embedding y (n x 2, row-major). */
  build(y: Float64Array): void {
    const n = this.n;
    this.y = y;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      const px = y[2 * i] as number;
      const py = y[2 * i + 1] as number;
      if (px < minX) minX = px;
      if (px > maxX) maxX = px;
      if (py < minY) minY = py;
      if (py > maxY) maxY = py;
    }
    // The partitions start from the last build's order, not 0 .. n - 1: points move little
    // between steps, so most of each partition is already in place and its branch is
    // predictable. The cells and their points are the same either way (only the order of the
    // points inside a leaf can differ, and with it the last bits of a depth-limited leaf's mean).
    if (!this.ordered) {
      for (let i = 0; i < n; i++) this.order[i] = i;
      this.ordered = true;
    }
    this.nodeCount = 0;
    this.groupCount = 0;
    this.buildNode(0, n, minX, maxX, minY, maxY, 0, false);
    this.groupStart[this.groupCount] = n;
  }

  private buildNode(
    start: number,
    end: number,
    x0: number,
    x1: number,
    y0: number,
    y1: number,
    depth: number,
    inGroup: boolean,
  ): void {
    // Deep chains of one-child cells (very close points) can exceed 2n nodes.
    if (this.nodeCount === this.capacity) this.grow(this.capacity * 2);
    const node = this.nodeCount++;
    const w = Math.max(x1 - x0, y1 - y0);
    const y = this.y;
    const order = this.order;
    const count = end - start;
    this.size[node] = count;
    const leaf = count === 1 || depth >= MAX_DEPTH || w === 0;
    // A leaf of many coincident points is a group of its own, however large.
    if (!inGroup && (count <= GROUP_SIZE || leaf)) {
      this.groupNode[this.groupCount] = node;
      this.groupStart[this.groupCount] = start;
      this.groupCount++;
      inGroup = true;
    }
    if (leaf) {
      let sx = 0;
      let sy = 0;
      for (let at = start; at < end; at++) {
        const i = order[at] as number;
        sx += y[2 * i] as number;
        sy += y[2 * i + 1] as number;
      }
      // Coincident points keep their exact position (a mean could round away from it), so
      // that each of them sees the leaf at distance exactly 0.
      const first = order[start] as number;
      this.comX[node] = w === 0 ? (y[2 * first] as number) : sx / count;
      this.comY[node] = w === 0 ? (y[2 * first + 1] as number) : sy / count;
      this.widthSq[node] = count === 1 || w === 0 ? 0 : w * w;
      this.skip[node] = node + 1;
      return;
    }
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    // Two in-place partitions: by y into [start, mid), [mid, end), then each half by x.
    const mid = partition(order, y, 1, cy, start, end);
    const lowMid = partition(order, y, 0, cx, start, mid);
    const highMid = partition(order, y, 0, cx, mid, end);
    let sx = 0;
    let sy = 0;
    const addChild = (s: number, e: number, a0: number, a1: number, b0: number, b1: number): void => {
      if (s === e) return;
      const child = this.nodeCount;
      this.buildNode(s, e, a0, a1, b0, b1, depth + 1, inGroup);
      sx += (this.comX[child] as number) * (e - s);
      sy += (this.comY[child] as number) * (e - s);
    };
    addChild(start, lowMid, x0, cx, y0, cy);
    addChild(lowMid, mid, cx, x1, y0, cy);
    addChild(mid, highMid, x0, cx, cy, y1);
    addChild(highMid, end, cx, x1, cy, y1);
    this.comX[node] = sx / count;
    this.comY[node] = sy / count;
    this.widthSq[node] = w * w;
    this.skip[node] = this.nodeCount;
  }
}

/** Moves the points of order[start, end) with coordinate `axis` below `split` first; returns the boundary. */
function partition(order: Int32Array, y: Float64Array, axis: number, split: number, start: number, end: number): number {
  let lo = start;
  let hi = end - 1;
  while (lo <= hi) {
    const i = order[lo] as number;
    if ((y[2 * i + axis] as number) < split) {
      lo++;
    } else {
      order[lo] = order[hi] as number;
      order[hi] = i;
      hi--;
    }
  }
  return lo;
}
