import type { NextConfig } from 'next';

// Nothing is fetched from the internet at build or run time: no next/font/google, no remote
// images (the API's files come through our own /api/strata proxy).
const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The API's files are already thumbnails; Next's image optimizer is not used.
  images: { unoptimized: true },
  // The test and CI machines are small; one worker keeps builds from starving the API tests.
  experimental: { cpus: 1 },
};

export default config;
