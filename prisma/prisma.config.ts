// Prisma CLI configuration for machines where Prisma's schema engine can run, e.g.
//   DATABASE_URL=postgres://... npx prisma migrate deploy --config prisma/prisma.config.ts
// Strata itself needs none of this: `strata db migrate` applies the same migrations and
// records them in _prisma_migrations exactly as `migrate deploy` does. Paths are relative to
// this file.
import { defineConfig, env } from 'prisma/config';

export default defineConfig({
  schema: 'schema.prisma',
  migrations: { path: 'migrations' },
  datasource: { url: env('DATABASE_URL') },
});
