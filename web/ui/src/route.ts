// Which view a path under the console's base shows.

export interface NodeRef {
  namespace: string;
  /** applications, workloads or services, as the API's paths say. */
  kind: 'applications' | 'workloads' | 'services';
  name: string;
}

export interface Route {
  name: 'home' | 'graph' | 'details' | 'not-found';
  node?: NodeRef;
}

const kinds = ['applications', 'workloads', 'services'];

/** Routes a path (without the base, no leading slash). */
export function route(path: string): Route {
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  if (parts.length === 0) return { name: 'home' };
  if (parts.length === 1 && parts[0] === 'graph') return { name: 'graph' };
  // Kiali's own graph links: /console/graph/namespaces?namespaces=…
  if (parts[0] === 'console' && parts[1] === 'graph') return { name: 'graph' };
  if (parts.length >= 4 && parts[0] === 'namespaces' && kinds.includes(parts[2]!)) {
    const node: NodeRef = { namespace: parts[1]!, kind: parts[2] as NodeRef['kind'], name: parts[3]! };
    if (parts.length === 4) return { name: 'details', node };
    if (parts.length === 5 && parts[4] === 'graph') return { name: 'graph', node };
  }
  return { name: 'not-found' };
}
