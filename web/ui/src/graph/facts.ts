// What find/hide, the side panel and the styles read of a node or an edge:
// the API's strings turned into numbers and flags once per answer.

import type { EdgeData, GraphAnswer, NodeData, Rates } from '../api';

export interface NodeFacts {
  kind: 'node';
  id: string;
  nodeType: string;
  namespace: string;
  cluster?: string;
  app?: string;
  version?: string;
  service?: string;
  workload?: string;
  aggregateValue?: string;
  labels: Record<string, string>;
  healthStatus?: string;
  rates: { httpIn?: number; httpOut?: number; grpcIn?: number; grpcOut?: number; tcpIn?: number; tcpOut?: number };
  /** 1 for the most connected nodes; see rank(). */
  rank?: number;
  isBox: boolean;
  isRoot: boolean;
  isOutside: boolean;
  isIdle: boolean;
  isDead: boolean;
  isInaccessible: boolean;
  isServiceEntry: boolean;
  hasMissingSC: boolean;
  hasVS: boolean;
  hasCB: boolean;
  hasFaultInjection: boolean;
  hasRequestRouting: boolean;
  hasRequestTimeout: boolean;
  hasTrafficShifting: boolean;
  hasTCPTrafficShifting: boolean;
  hasMirroring: boolean;
  hasWorkloadEntry: boolean;
}

export interface EdgeFacts {
  kind: 'edge';
  id: string;
  source: string;
  target: string;
  protocol: string;
  sourcePrincipal?: string;
  destPrincipal?: string;
  hasTraffic: boolean;
  rates: {
    http?: number;
    httpPercentErr?: number;
    httpPercentReq?: number;
    grpc?: number;
    grpcPercentErr?: number;
    grpcPercentReq?: number;
    tcp?: number;
    responseTime?: number;
    throughput?: number;
    isMTLS?: number;
  };
}

export type Facts = NodeFacts | EdgeFacts;

/** A rate string of the API as a number; absent when not there. */
export function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isNaN(n) ? undefined : n;
}

function nodeRates(d: NodeData): NodeFacts['rates'] {
  const all: Rates = {};
  for (const t of d.traffic ?? []) Object.assign(all, t.rates);
  return {
    httpIn: num(all.httpIn),
    httpOut: num(all.httpOut),
    grpcIn: num(all.grpcIn),
    grpcOut: num(all.grpcOut),
    tcpIn: num(all.tcpIn),
    tcpOut: num(all.tcpOut),
  };
}

export function nodeFacts(d: NodeData): NodeFacts {
  return {
    kind: 'node',
    id: d.id,
    nodeType: d.nodeType,
    namespace: d.namespace,
    cluster: d.cluster,
    app: d.app,
    version: d.version,
    service: d.service,
    workload: d.workload,
    aggregateValue: d.aggregateValue,
    labels: d.labels ?? {},
    healthStatus: d.healthStatus,
    rates: nodeRates(d),
    isBox: !!d.isBox,
    isRoot: !!d.isRoot,
    isOutside: !!d.isOutside,
    isIdle: !!d.isIdle,
    isDead: !!d.isDead,
    isInaccessible: false,
    isServiceEntry: !!d.isServiceEntry,
    hasMissingSC: !!d.hasMissingSC,
    hasVS: !!d.hasVS,
    hasCB: !!d.hasCB,
    hasFaultInjection: !!d.hasFaultInjection,
    hasRequestRouting: !!d.hasRequestRouting,
    hasRequestTimeout: !!d.hasRequestTimeout,
    hasTrafficShifting: !!d.hasTrafficShifting,
    hasTCPTrafficShifting: !!d.hasTCPTrafficShifting,
    hasMirroring: !!d.hasMirroring,
    hasWorkloadEntry: !!d.hasWorkloadEntry,
  };
}

export function edgeFacts(d: EdgeData): EdgeFacts {
  const r = d.traffic.rates;
  const rates: EdgeFacts['rates'] = {
    http: num(r.http),
    httpPercentErr: num(r.httpPercentErr),
    httpPercentReq: num(r.httpPercentReq),
    grpc: num(r.grpc),
    grpcPercentErr: num(r.grpcPercentErr),
    grpcPercentReq: num(r.grpcPercentReq),
    tcp: num(r.tcp),
    responseTime: num(d.responseTime),
    throughput: num(d.throughput),
    isMTLS: num(d.isMTLS),
  };
  return {
    kind: 'edge',
    id: d.id,
    source: d.source,
    target: d.target,
    protocol: d.traffic.protocol,
    sourcePrincipal: d.sourcePrincipal,
    destPrincipal: d.destPrincipal,
    hasTraffic: (rates.http ?? 0) > 0 || (rates.grpc ?? 0) > 0 || (rates.tcp ?? 0) > 0,
    rates,
  };
}

/**
 * Ranks nodes by how many edges touch them (in and out), 1 for the most
 * connected, scaled to 1..100 as Kiali's rank: dense ranks, so that
 * "rank <= 2" is the nodes of the two highest counts.
 */
export function rank(nodes: NodeFacts[], edges: EdgeFacts[]): void {
  const degree = new Map<string, number>();
  for (const e of edges) {
    degree.set(e.source, (degree.get(e.source) ?? 0) + 1);
    degree.set(e.target, (degree.get(e.target) ?? 0) + 1);
  }
  const distinct = [...new Set(nodes.filter((n) => !n.isBox).map((n) => degree.get(n.id) ?? 0))].sort((a, b) => b - a);
  const position = new Map(distinct.map((d, i) => [d, i + 1]));
  for (const n of nodes) {
    if (!n.isBox) n.rank = Math.min(100, position.get(degree.get(n.id) ?? 0) ?? 100);
  }
}

/** The facts of a whole answer, by id. */
export function factsOf(g: GraphAnswer): { nodes: Map<string, NodeFacts>; edges: Map<string, EdgeFacts> } {
  const nodes = g.elements.nodes.map((n) => nodeFacts(n.data));
  const edges = g.elements.edges.map((e) => edgeFacts(e.data));
  rank(nodes, edges);
  return { nodes: new Map(nodes.map((n) => [n.id, n])), edges: new Map(edges.map((e) => [e.id, e])) };
}
