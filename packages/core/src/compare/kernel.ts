/**
 * Which matrix-product kernel CKA and kNN run on:
 * - 'float64': `dotRows` (./dot.ts), float64 JavaScript on one core (~3 GFLOP/s); agrees with
 *   numpy to ~1e-15.
 * - 'onnxruntime': float32 Gemm on onnxruntime's CPU kernels (MLAS, every core; the helper the
 *   PCA uses), each block's product summed into float64 so rounding does not grow with the
 *   number of images. CKA then carries float32 rounding (measured ~1e-8, docs/compare.md);
 *   kNN stays exact because every neighbour the float32 distances cannot rule out is
 *   re-measured in float64 (see `float32DotBound`).
 * - 'auto' (default): onnxruntime once a call does enough multiply-adds to repay starting a
 *   session, float64 below (small inputs, tests).
 */
import { MatrixKernels } from '../pca/kernels.js';

export const KERNELS = ['auto', 'onnxruntime', 'float64'] as const;
export type Kernel = (typeof KERNELS)[number];

/** Below this many multiply-adds a call stays in JavaScript (about 50 ms there). */
export const ONNX_MIN_MULTIPLY_ADDS = 1.5e8;

export function parseKernel(value: string): Kernel {
  const found = KERNELS.find((kernel) => kernel === value);
  if (!found) throw new RangeError(`Unknown kernel "${value}"; expected one of ${KERNELS.join(', ')}`);
  return found;
}

/** The kernel a call of `multiplyAdds` multiply-adds runs on. */
export function chooseKernel(kernel: Kernel | undefined, multiplyAdds: number): 'onnxruntime' | 'float64' {
  switch (kernel ?? 'auto') {
    case 'auto':
      return multiplyAdds >= ONNX_MIN_MULTIPLY_ADDS ? 'onnxruntime' : 'float64';
    case 'onnxruntime':
      return 'onnxruntime';
    case 'float64':
      return 'float64';
    default:
      throw new RangeError(`Unknown kernel "${String(kernel)}"; expected one of ${KERNELS.join(', ')}`);
  }
}

const UNIT_ROUNDOFF_32 = 2 ** -24;

/**
 * A bound on |computed - exact| for a dot product of two float64 vectors of length `length`
 * computed as float32 (inputs rounded to float32, products summed in float32 in any order,
 * with or without FMA), relative to |x| |y|: the classic gamma_n bound of the summation
 * (Higham, Accuracy and Stability, 3.1) plus the rounding of both inputs, doubled for safety.
 * By Cauchy-Schwarz sum |x_i y_i| <= |x| |y|, so this also bounds a product split into column
 * blocks whose float32 results are added in float64.
 */
export function float32DotBound(length: number): number {
  const nu = length * UNIT_ROUNDOFF_32;
  if (nu >= 0.5) throw new RangeError(`float32 dot products of length ${length} have no useful error bound; split them`);
  return 2 * (nu / (1 - nu) + 3 * UNIT_ROUNDOFF_32);
}

/** onnxruntime's matrix products (created lazily; dispose when done). */
export function openMatrixKernels(): MatrixKernels {
  return new MatrixKernels();
}

export type { MatrixKernels };
