// The graph page's state, all of it in the URL, so that a link shows the
// same graph: Kiali's parameter names where Kiali has one.

import { parseDuration } from '../format';

export const graphTypes = ['app', 'versionedApp', 'workload', 'service'] as const;
export type GraphType = (typeof graphTypes)[number];

export const edgeLabelModes = ['none', 'trafficRate', 'trafficDistribution', 'rt50', 'rt95', 'rt99', 'rtAvg', 'throughput'] as const;
export type EdgeLabelMode = (typeof edgeLabelModes)[number];

export const layouts = ['dagre', 'ranked', 'grid'] as const;
export type Layout = (typeof layouts)[number];

/** Which drawing: cytoscape under largeGraph nodes and our canvas above (auto), or one of them always. */
export const renderers = ['auto', 'cytoscape', 'canvas'] as const;
export type Renderer = (typeof renderers)[number];

export const boxKinds = ['cluster', 'namespace', 'app'] as const;
export type BoxKind = (typeof boxKinds)[number];

/** Durations offered, in seconds (1m … 1d). */
export const durations = [60, 300, 600, 1800, 3600, 10800, 21600, 43200, 86400];
/** Refresh intervals offered, in milliseconds; 0 pauses. */
export const refreshes = [0, 10000, 15000, 30000, 60000, 300000];

export interface GraphState {
  namespaces: string[];
  graphType: GraphType;
  /** Rate window, seconds. */
  duration: number;
  /** Milliseconds between refreshes; 0 is paused. */
  refresh: number;
  edgeLabels: EdgeLabelMode;
  layout: Layout;
  renderer: Renderer;
  boxBy: BoxKind[];
  injectServiceNodes: boolean;
  idleNodes: boolean;
  security: boolean;
  animation: boolean;
  find: string;
  hide: string;
  /** When replaying: the Unix time shown; undefined is live. */
  queryTime?: number;
  /** Compare against: a Unix time or a duration back ("1h"); empty is off. */
  compareTo: string;
  /** The selected element's id. */
  selected?: string;
}

export const defaults: GraphState = {
  namespaces: [],
  graphType: 'versionedApp',
  duration: 60,
  refresh: 15000,
  edgeLabels: 'none',
  layout: 'dagre',
  renderer: 'auto',
  boxBy: [],
  injectServiceNodes: true,
  idleNodes: false,
  security: false,
  animation: false,
  find: '',
  hide: '',
  compareTo: '',
};

function oneOf<T extends string>(v: string | null, allowed: readonly T[], fallback: T): T {
  return v !== null && (allowed as readonly string[]).includes(v) ? (v as T) : fallback;
}

function bool(v: string | null, fallback: boolean): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  return fallback;
}

function list(v: string | null): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Reads the state from a URL's query; what is missing or wrong is the default. */
export function parseState(q: URLSearchParams): GraphState {
  const d = defaults;
  const duration = parseDuration(q.get('duration') ?? '');
  const refresh = Number(q.get('refresh'));
  const queryTime = Number(q.get('queryTime'));
  const s: GraphState = {
    namespaces: list(q.get('namespaces')),
    graphType: oneOf(q.get('graphType'), graphTypes, d.graphType),
    duration: duration !== undefined && duration > 0 ? duration : d.duration,
    refresh: q.has('refresh') && Number.isFinite(refresh) && refresh >= 0 ? refresh : d.refresh,
    edgeLabels: oneOf(q.get('edges'), edgeLabelModes, d.edgeLabels),
    layout: oneOf(q.get('layout'), layouts, d.layout),
    renderer: oneOf(q.get('renderer'), renderers, d.renderer),
    boxBy: list(q.get('boxBy')).filter((b): b is BoxKind => (boxKinds as readonly string[]).includes(b)),
    injectServiceNodes: bool(q.get('injectServiceNodes'), d.injectServiceNodes),
    idleNodes: bool(q.get('idleNodes'), d.idleNodes),
    security: bool(q.get('security'), d.security),
    animation: bool(q.get('animation'), d.animation),
    find: q.get('find') ?? '',
    hide: q.get('hide') ?? '',
    compareTo: q.get('compareTo') ?? '',
  };
  if (q.has('queryTime') && Number.isInteger(queryTime) && queryTime > 0) s.queryTime = queryTime;
  const sel = q.get('selected');
  if (sel) s.selected = sel;
  return s;
}

/** Writes the state to a query, leaving defaults out. */
export function stateQuery(s: GraphState): URLSearchParams {
  const q = new URLSearchParams();
  const d = defaults;
  if (s.namespaces.length) q.set('namespaces', s.namespaces.join(','));
  if (s.graphType !== d.graphType) q.set('graphType', s.graphType);
  if (s.duration !== d.duration) q.set('duration', String(s.duration));
  if (s.refresh !== d.refresh) q.set('refresh', String(s.refresh));
  if (s.edgeLabels !== d.edgeLabels) q.set('edges', s.edgeLabels);
  if (s.layout !== d.layout) q.set('layout', s.layout);
  if (s.renderer !== d.renderer) q.set('renderer', s.renderer);
  if (s.boxBy.length) q.set('boxBy', s.boxBy.join(','));
  if (s.injectServiceNodes !== d.injectServiceNodes) q.set('injectServiceNodes', String(s.injectServiceNodes));
  if (s.idleNodes !== d.idleNodes) q.set('idleNodes', String(s.idleNodes));
  if (s.security !== d.security) q.set('security', String(s.security));
  if (s.animation !== d.animation) q.set('animation', String(s.animation));
  if (s.find) q.set('find', s.find);
  if (s.hide) q.set('hide', s.hide);
  if (s.queryTime !== undefined) q.set('queryTime', String(s.queryTime));
  if (s.compareTo) q.set('compareTo', s.compareTo);
  if (s.selected) q.set('selected', s.selected);
  return q;
}

/**
 * The graph API's appenders a state shows, as Kiali's UI asks for them:
 * response times, throughput and mTLS only when edge labels, compare,
 * animation (its dots' speed) or security badges show them. On a large
 * mesh each is a query of a row per edge, most of a graph's bytes; the
 * side panel asks for them for the one element selected.
 */
export function appenders(s: GraphState): string[] {
  const out = ['deadNode', 'serviceEntry', 'sidecarsCheck'];
  if (s.edgeLabels.startsWith('rt') || s.compareTo || s.animation) out.push('responseTime');
  if (s.security) out.push('securityPolicy');
  if (s.edgeLabels === 'throughput') out.push('throughput');
  return out;
}

/** The appenders the side panel shows, beyond those every graph asks for. */
export const detailAppenders = ['responseTime', 'securityPolicy', 'throughput'];

/** The graph API's parameters for a state. */
export function apiQuery(s: GraphState): URLSearchParams {
  const q = new URLSearchParams();
  q.set('namespaces', s.namespaces.join(','));
  q.set('graphType', s.graphType);
  q.set('duration', `${s.duration}s`);
  q.set('injectServiceNodes', String(s.injectServiceNodes));
  q.set('appenders', appenders(s).join(','));
  if (s.idleNodes) q.set('idleNodes', 'true');
  if (s.boxBy.length) q.set('boxBy', s.boxBy.join(','));
  const rt = { rt50: '50', rt95: '95', rt99: '99', rtAvg: 'avg' } as Record<string, string>;
  q.set('responseTime', rt[s.edgeLabels] ?? '95');
  if (s.queryTime !== undefined) q.set('queryTime', String(s.queryTime));
  if (s.compareTo) q.set('compareTo', s.compareTo);
  return q;
}
