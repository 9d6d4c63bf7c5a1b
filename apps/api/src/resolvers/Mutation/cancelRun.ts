import { requestJobCancel } from '@strata/core/store';
import type { MutationResolvers } from '../../generated/resolvers.js';
import { forbidden, notFound } from '../../errors.js';
import { parseId, requireRole, visibleJob } from '../helpers.js';

export const cancelRun: MutationResolvers['cancelRun'] = async (_parent, args, context) => {
  requireRole(context, 'editor', 'cancelRun');
  const id = parseId(args.id, 'id');
  const job = await visibleJob(context, await context.loaders.job.load(id));
  if (!job) throw notFound(`no run with id ${id}`);
  if (job.owner !== context.principal.user && context.principal.role !== 'admin') {
    throw forbidden(`run ${id} was started by ${job.owner}; only they and admins may cancel it`);
  }
  const updated = await requestJobCancel(context.services.store, id);
  if (!updated) throw notFound(`no run with id ${id}`);
  if (updated.status === 'cancelled' && job.status === 'queued') await context.services.queue.cancelQueued(updated);
  return updated;
};
