import { LAYERS } from '@strata/core';
import type { QueryResolvers } from '../../generated/resolvers.js';

export const layers: QueryResolvers['layers'] = () => [...LAYERS];
