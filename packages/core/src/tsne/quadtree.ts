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
 * Most points in a leaf: a cell of up to LEAF_SIZE points is not split further. Where the walk
 * opens such a leaf its points enter the interaction list one by one (gradient-bh.ts), which is
 * what single-point leaves below it would have given at best; the tree has a third of the
 * nodes and builds in half the time.
 */
export const LEAF_SIZE = 4;
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
  /** Where each cell's points start in `order` (size[node] of them). */
  first: Int32Array;
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
  first: Int32Array;
  order: Int32Array;
  groupCount = 0;
  groupNode: Int32Array;
  groupStart: Int32Array;
  private capacity = 0;
  /** Morton code of each point, then the codes in sorted order, and the sort's scratch. */
  private readonly keys: Uint32Array;
  private readonly sortedKeys: Uint32Array;
  private readonly scratchKeys: Uint32Array;
  private readonly scratchOrder: Int32Array;
  private readonly counts = new Int32Array(256);
  private y: Float64Array = new Float64Array(0);
  /** Whether `order` holds a previous build's order. */
  private sorted = false;

  constructor(readonly n: number) {
    this.order = sharedInt32(n);
    this.groupNode = sharedInt32(n);
    this.groupStart = sharedInt32(n + 1);
    this.keys = new Uint32Array(n);
    this.sortedKeys = new Uint32Array(n);
    this.scratchKeys = new Uint32Array(n);
    this.scratchOrder = new Int32Array(n);
    this.comX = this.comY = this.size = this.widthSq = new Float64Array(0);
    this.skip = this.first = new Int32Array(0);
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
    const copyI = (old: Int32Array): Int32Array => {
      const next = sharedInt32(capacity);
      next.set(old.subarray(0, this.nodeCount));
      return next;
    };
    this.skip = copyI(this.skip);
    this.first = copyI(this.first);
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
    // Cells down to 2^-MORTON_LEVELS of the box come from one sort of the points by Morton
    // code (quadrant digits, top level first), so that a cell's points are a run of the order
    // and its children's runs are found by binary search; only cells still holding several
    // points below that depth are split by partitioning. The quadrant a point falls in is
    // computed from its quantised coordinate, which can differ from halving in floating point
    // only for a point within rounding of a cell boundary (it then sits in the neighbouring
    // cell, whose centre of mass and size count it: the sums stay right).
    // Why: the recursive partitions cost 2.6 ms a build at 20,000 points on the calling thread,
    // while the workers wait for the tree; the sort and scan cost ~1 ms (docs/tsne.md).
    const keys = this.keys;
    const sx = maxX > minX ? MORTON_CELLS / (maxX - minX) : 0;
    const sy = maxY > minY ? MORTON_CELLS / (maxY - minY) : 0;
    for (let i = 0; i < n; i++) {
      const qx = Math.min(MORTON_CELLS - 1, Math.floor(((y[2 * i] as number) - minX) * sx));
      const qy = Math.min(MORTON_CELLS - 1, Math.floor(((y[2 * i + 1] as number) - minY) * sy));
      keys[i] = (spreadBits(qx) | (spreadBits(qy) << 1)) >>> 0;
    }
    // Between steps points move little, so the last order is nearly sorted and an insertion
    // sort of it costs a few moves per point; a large rearrangement falls back to the radix sort.
    if (!this.sorted || !resort(keys, n, this.order, this.sortedKeys, 4 * n)) {
      sortByKey(keys, n, this.order, this.sortedKeys, this.scratchKeys, this.scratchOrder, this.counts);
      this.sorted = true;
    }
    this.nodeCount = 0;
    this.groupCount = 0;
    this.buildNode(0, n, minX, maxX, minY, maxY, 0, false);
    this.groupStart[this.groupCount] = n;
  }

  /**
   * Appends the leaf of the one point order[at]: what buildNode makes of a one-point cell,
   * without its general path (half of all nodes are such leaves).
   */
  private pointLeaf(at: number, inGroup: boolean): number {
    if (this.nodeCount === this.capacity) this.grow(this.capacity * 2);
    const node = this.nodeCount++;
    if (!inGroup) {
      this.groupNode[this.groupCount] = node;
      this.groupStart[this.groupCount] = at;
      this.groupCount++;
    }
    const i = this.order[at] as number;
    this.comX[node] = this.y[2 * i] as number;
    this.comY[node] = this.y[2 * i + 1] as number;
    this.size[node] = 1;
    this.widthSq[node] = 0;
    this.skip[node] = node + 1;
    this.first[node] = at;
    return node;
  }

  /** Appends the cell of order[start, end) and its subtree; returns the cell's node. */
  private buildNode(
    start: number,
    end: number,
    x0: number,
    x1: number,
    y0: number,
    y1: number,
    depth: number,
    inGroup: boolean,
  ): number {
    // Deep chains of one-child cells (very close points) can exceed 2n nodes.
    if (this.nodeCount === this.capacity) this.grow(this.capacity * 2);
    const node = this.nodeCount++;
    const w = Math.max(x1 - x0, y1 - y0);
    const y = this.y;
    const order = this.order;
    const count = end - start;
    this.size[node] = count;
    const leaf = count <= LEAF_SIZE || depth >= MAX_DEPTH || w === 0;
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
      this.first[node] = start;
      return node;
    }
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    let lowMid: number;
    let mid: number;
    let highMid: number;
    if (depth < MORTON_LEVELS) {
      // The run is sorted by code and shares the digits above this level: children are runs.
      const keys = this.sortedKeys;
      const shift = 2 * (MORTON_LEVELS - 1 - depth);
      lowMid = firstDigitAbove(keys, start, end, shift, 0);
      mid = firstDigitAbove(keys, lowMid, end, shift, 1);
      highMid = firstDigitAbove(keys, mid, end, shift, 2);
    } else {
      // Two in-place partitions: by y into [start, mid), [mid, end), then each half by x; the
      // quadrant order is the codes' (x low y low, x high y low, x low y high, x high y high).
      mid = partition(order, y, 1, cy, start, end);
      lowMid = partition(order, y, 0, cx, start, mid);
      highMid = partition(order, y, 0, cx, mid, end);
    }
    // Children in quadrant order; each adds its centre of mass times its count.
    let sx = 0;
    let sy = 0;
    if (start < lowMid) {
      const child = lowMid - start === 1 ? this.pointLeaf(start, inGroup) : this.buildNode(start, lowMid, x0, cx, y0, cy, depth + 1, inGroup);
      sx += (this.comX[child] as number) * (lowMid - start);
      sy += (this.comY[child] as number) * (lowMid - start);
    }
    if (lowMid < mid) {
      const child = mid - lowMid === 1 ? this.pointLeaf(lowMid, inGroup) : this.buildNode(lowMid, mid, cx, x1, y0, cy, depth + 1, inGroup);
      sx += (this.comX[child] as number) * (mid - lowMid);
      sy += (this.comY[child] as number) * (mid - lowMid);
    }
    if (mid < highMid) {
      const child = highMid - mid === 1 ? this.pointLeaf(mid, inGroup) : this.buildNode(mid, highMid, x0, cx, cy, y1, depth + 1, inGroup);
      sx += (this.comX[child] as number) * (highMid - mid);
      sy += (this.comY[child] as number) * (highMid - mid);
    }
    if (highMid < end) {
      const child = end - highMid === 1 ? this.pointLeaf(highMid, inGroup) : this.buildNode(highMid, end, cx, x1, cy, y1, depth + 1, inGroup);
      sx += (this.comX[child] as number) * (end - highMid);
      sy += (this.comY[child] as number) * (end - highMid);
    }
    this.comX[node] = sx / count;
    this.comY[node] = sy / count;
    this.widthSq[node] = w * w;
    this.skip[node] = this.nodeCount;
    this.first[node] = start;
    return node;
  }
}

/** Quantisation steps per side for the Morton codes: 16 bits per axis fill a 32-bit code. */
const MORTON_LEVELS = 16;
const MORTON_CELLS = 1 << MORTON_LEVELS;

/** The bits of a 16-bit value spread to the even bit positions. */
function spreadBits(v: number): number {
  let x = v & 0xffff;
  x = (x | (x << 8)) & 0x00ff00ff;
  x = (x | (x << 4)) & 0x0f0f0f0f;
  x = (x | (x << 2)) & 0x33333333;
  x = (x | (x << 1)) & 0x55555555;
  return x;
}

/**
 * order[0 .. n) = 0 .. n - 1 sorted by keys (stable: equal codes by point index), and the keys
 * in that order into `sorted`: least-significant-digit radix sort, four passes of 8 bits.
 */
function sortByKey(
  keys: Uint32Array,
  n: number,
  order: Int32Array,
  sorted: Uint32Array,
  scratchKeys: Uint32Array,
  scratchOrder: Int32Array,
  counts: Int32Array,
): void {
  let srcK = keys;
  let srcO: Int32Array | null = null;
  // Four passes end in the arrays they started from: pass 0 reads keys, writes scratch; then
  // they alternate between sorted/order and scratch.
  for (let pass = 0; pass < 4; pass++) {
    const shift = 8 * pass;
    const dstK = pass % 2 === 0 ? scratchKeys : sorted;
    const dstO = pass % 2 === 0 ? scratchOrder : order;
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const digit = ((srcK[i] as number) >>> shift) & 255;
      counts[digit] = (counts[digit] as number) + 1;
    }
    let total = 0;
    for (let d = 0; d < 256; d++) {
      const c = counts[d] as number;
      counts[d] = total;
      total += c;
    }
    for (let i = 0; i < n; i++) {
      const key = srcK[i] as number;
      const digit = (key >>> shift) & 255;
      const at = counts[digit] as number;
      counts[digit] = at + 1;
      dstK[at] = key;
      dstO[at] = srcO === null ? i : (srcO[i] as number);
    }
    srcK = dstK;
    srcO = dstO;
  }
}

/**
 * Sorts `order` (a permutation from an earlier build) by (keys[i], i) in place by insertion,
 * writing the keys in that order into `sorted`: the same result as sortByKey. Gives up, leaving
 * `order` permuted, after `maxMoves` moves; returns whether it finished.
 */
function resort(keys: Uint32Array, n: number, order: Int32Array, sorted: Uint32Array, maxMoves: number): boolean {
  let moves = 0;
  for (let at = 0; at < n; at++) {
    const i = order[at] as number;
    const key = keys[i] as number;
    let to = at;
    while (to > 0) {
      const before = sorted[to - 1] as number;
      if (before < key || (before === key && (order[to - 1] as number) < i)) break;
      sorted[to] = before;
      order[to] = order[to - 1] as number;
      to--;
    }
    sorted[to] = key;
    order[to] = i;
    moves += at - to;
    if (moves > maxMoves) return false;
  }
  return true;
}

/** First position in [start, end) whose 2-bit digit at `shift` exceeds `digit` (the run is sorted). */
function firstDigitAbove(keys: Uint32Array, start: number, end: number, shift: number, digit: number): number {
  let lo = start;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((((keys[mid] as number) >>> shift) & 3) <= digit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
