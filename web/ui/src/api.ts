// The console's API, typed: these types mirror the Go JSON shapes of
// graph/encode_cytoscape.go and console/*.go (Kiali's shapes), written once.

export interface Rates {
  [key: string]: string | undefined;
}

export interface NodeTraffic {
  protocol: 'http' | 'grpc' | 'tcp';
  rates: Rates;
}

export interface ServiceRef {
  cluster: string;
  namespace: string;
  name: string;
}

export interface HealthStatusReason {
  status: string;
  reason?: string;
}

export interface NodeData {
  id: string;
  parent?: string;
  cluster?: string;
  namespace: string;
  nodeType: 'app' | 'workload' | 'service' | 'unknown' | 'box' | 'aggregate';
  workload?: string;
  app?: string;
  version?: string;
  service?: string;
  destServices?: ServiceRef[];
  traffic?: NodeTraffic[];
  isBox?: string;
  isRoot?: boolean;
  isOutside?: boolean;
  isIdle?: boolean;
  isDead?: boolean;
  hasMissingSC?: boolean;
  hasVS?: unknown;
  hasCB?: boolean;
  hasFaultInjection?: boolean;
  hasRequestRouting?: boolean;
  hasRequestTimeout?: boolean;
  hasTrafficShifting?: boolean;
  hasTCPTrafficShifting?: boolean;
  hasMirroring?: boolean;
  hasWorkloadEntry?: unknown;
  validation?: string;
  isServiceEntry?: { location: string; hosts: string[] };
  healthStatus?: string;
  healthData?: { status?: HealthStatusReason };
  labels?: Record<string, string>;
  aggregate?: string;
  aggregateValue?: string;
  compare?: Delta;
}

export interface Responses {
  [code: string]: { flags: Record<string, string>; hosts: Record<string, string> };
}

export interface EdgeData {
  id: string;
  source: string;
  target: string;
  destPrincipal?: string;
  sourcePrincipal?: string;
  isMTLS?: string;
  responseTime?: string;
  throughput?: string;
  healthStatus?: string;
  traffic: { protocol: 'http' | 'grpc' | 'tcp'; rates: Rates; responses?: Responses };
  compare?: Delta;
}

/** How an element moved against the graph it is compared to. */
export interface Delta {
  /** "new", "gone", "changed" or "same". */
  change: 'new' | 'gone' | 'changed' | 'same';
  rate?: [number, number];
  errorShare?: [number, number];
  responseTime?: [number, number];
}

export interface GraphAnswer {
  timestamp: number;
  duration: number;
  graphType: string;
  elements: { nodes: { data: NodeData }[]; edges: { data: EdgeData }[] };
  queries?: number;
  warnings?: string[];
  compareTo?: number;
}

/** What /api/config says of the Prometheus (Kiali's fields, and ours). */
export interface ServerConfig {
  prometheus: {
    /** Seconds. */
    globalScrapeInterval: number;
    /** About when the store's data begins, Unix seconds; absent when it cannot tell. */
    dataSince?: number;
  };
}

export interface Namespace {
  name: string;
}

/** An error the API answered, in its one shape {"error", "code"}. */
export class APIError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'APIError';
  }
}

/** The API under the page's base (the console's route prefix). */
export class API {
  constructor(private readonly base: string) {}

  async get<T>(path: string, params?: URLSearchParams, signal?: AbortSignal): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    if (params) url.search = params.toString();
    let resp: Response;
    try {
      resp = await fetch(url, signal ? { signal } : {});
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e;
      throw new APIError('the console does not answer: is meshlens still running?', 0);
    }
    const text = await resp.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new APIError(`${url.pathname} answered ${resp.status} with something that is not JSON`, resp.status);
    }
    if (!resp.ok) {
      const msg = (body as { error?: string }).error ?? `${url.pathname} answered ${resp.status}`;
      throw new APIError(msg, resp.status);
    }
    return body as T;
  }

  namespaces(): Promise<Namespace[]> {
    return this.get<Namespace[]>('api/namespaces');
  }

  config(): Promise<ServerConfig> {
    return this.get<ServerConfig>('api/config');
  }

  graph(params: URLSearchParams, signal?: AbortSignal): Promise<GraphAnswer> {
    return this.get<GraphAnswer>('api/namespaces/graph', params, signal);
  }

  /** The graph of one node and its neighbours. */
  nodeGraph(node: { namespace: string; kind: string; name: string }, params: URLSearchParams, signal?: AbortSignal): Promise<GraphAnswer> {
    const path = `api/namespaces/${encodeURIComponent(node.namespace)}/${encodeURIComponent(node.kind)}/${encodeURIComponent(node.name)}/graph`;
    return this.get<GraphAnswer>(path, params, signal);
  }
}
