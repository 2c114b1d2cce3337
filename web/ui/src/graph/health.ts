// An edge's colour: the API's health where it judged one, else the error
// share against Kiali's default tolerances (any error degraded, 10 % failed).

import type { EdgeFacts } from './facts';

export type EdgeHealth = 'healthy' | 'degraded' | 'failure' | 'none';

export const failureThreshold = 10;

export function edgeHealth(e: EdgeFacts, apiStatus: string | undefined): EdgeHealth {
  switch (apiStatus) {
    case 'Failure':
      return 'failure';
    case 'Degraded':
      return 'degraded';
    case 'Healthy':
      return 'healthy';
  }
  if (!e.hasTraffic) return 'none';
  const err = e.protocol === 'grpc' ? e.rates.grpcPercentErr : e.protocol === 'http' ? e.rates.httpPercentErr : undefined;
  if (err === undefined || err <= 0) return 'healthy';
  return err >= failureThreshold ? 'failure' : 'degraded';
}
