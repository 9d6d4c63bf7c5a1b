import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Reference implementations (PyTorch, PIL, h5py) run in subprocesses; give them time.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Two cores: files in parallel would only make each slower and memory peaks add up.
    fileParallelism: false,
  },
});
