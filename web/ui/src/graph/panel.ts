// The side panel: what the selected node or edge carries, in numbers.

import type { Delta, EdgeData, NodeData } from '../api';
import { h } from '../dom';
import * as fmt from '../format';
import { num } from './facts';

export interface PanelLinks {
  /** The node's own graph, as a page URL. */
  nodeGraph?: string;
  /** Its details page. */
  details?: string;
}

export function nodeName(d: NodeData): string {
  switch (d.nodeType) {
    case 'app':
      return d.version ? `${d.app ?? ''} ${d.version}` : (d.app ?? '');
    case 'workload':
      return d.workload ?? '';
    case 'service':
      return d.service ?? '';
    case 'box':
      return d.isBox === 'namespace' ? d.namespace : d.isBox === 'cluster' ? (d.cluster ?? '') : (d.app ?? '');
    default:
      return d.nodeType === 'unknown' ? 'unknown' : (d.workload ?? d.service ?? d.app ?? d.id);
  }
}

function row(label: string, value: string): HTMLTableRowElement {
  return h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, value));
}

function deltaRows(d: Delta | undefined): HTMLElement | undefined {
  if (!d) return undefined;
  const pair = (p: [number, number] | undefined, f: (n: number) => string) => (p ? `${f(p[0])} → ${f(p[1])}` : '-');
  return h(
    'section',
    { class: 'compare', 'data-test': 'compare' },
    h('h4', {}, `Compared: ${d.change}`),
    h(
      'table',
      {},
      row('request rate', pair(d.rate, fmt.rate)),
      row('error share', pair(d.errorShare, fmt.percent)),
      row('response time', pair(d.responseTime, fmt.millis)),
    ),
  );
}

export function nodePanel(d: NodeData, links: PanelLinks): HTMLElement {
  const rates: Record<string, string> = {};
  for (const t of d.traffic ?? []) Object.assign(rates, t.rates);
  const table = h('table', { class: 'rates', 'data-test': 'node-rates' }, h('tr', {}, h('th', {}, ''), h('th', {}, 'in'), h('th', {}, 'out')));
  for (const proto of ['http', 'grpc', 'tcp'] as const) {
    const inR = num(rates[`${proto}In`]);
    const outR = num(rates[`${proto}Out`]);
    if (inR === undefined && outR === undefined) continue;
    const f = proto === 'tcp' ? fmt.bytesPerSecond : fmt.rate;
    table.appendChild(h('tr', { 'data-protocol': proto }, h('th', { scope: 'row' }, proto.toUpperCase()), h('td', { 'data-test': `${proto}-in` }, f(inR)), h('td', {}, f(outR))));
  }
  const errIn = (num(rates.httpIn4xx) ?? 0) + (num(rates.httpIn5xx) ?? 0) + (num(rates.httpInNoResponse) ?? 0);
  const httpIn = num(rates.httpIn);
  const health = d.healthData?.status;
  return h(
    'div',
    { class: 'panel-body', 'data-test': 'node-panel' },
    h('h3', {}, nodeName(d)),
    h('p', { class: 'muted' }, `${d.nodeType}${d.isBox ? ` box (${d.isBox})` : ''} in ${d.namespace}${d.cluster ? ` · ${d.cluster}` : ''}`),
    h(
      'table',
      {},
      d.app ? row('app', d.app) : undefined,
      d.version ? row('version', d.version) : undefined,
      d.workload ? row('workload', d.workload) : undefined,
      d.service ? row('service', d.service) : undefined,
      row('health', health ? `${health.status}${health.reason ? ` — ${health.reason}` : ''}` : (d.healthStatus ?? 'n/a')),
      d.validation ? row('config validation', d.validation) : undefined,
      d.hasMissingSC ? row('sidecar', 'missing') : undefined,
      d.isServiceEntry ? row('service entry', `${d.isServiceEntry.location}: ${d.isServiceEntry.hosts.join(', ')}`) : undefined,
      d.isOutside ? row('outside', 'not in the namespaces asked for') : undefined,
      d.isIdle ? row('idle', 'no traffic in the window') : undefined,
    ),
    table.rows.length > 1 ? h('h4', {}, 'Traffic') : undefined,
    table.rows.length > 1 ? table : undefined,
    httpIn ? h('p', {}, `HTTP errors in: ${fmt.percent((100 * errIn) / httpIn)}`) : undefined,
    deltaRows(d.compare),
    h(
      'p',
      { class: 'links' },
      links.nodeGraph ? h('a', { href: links.nodeGraph, 'data-link': 'node-graph' }, 'Node graph') : undefined,
      ' ',
      links.details ? h('a', { href: links.details, 'data-link': 'details' }, 'Details') : undefined,
    ),
  );
}

/** The share of each code and flag of an edge's responses, largest first. */
export function responseShares(e: EdgeData): { code: string; flag: string; percent: number }[] {
  const out: { code: string; flag: string; percent: number }[] = [];
  for (const [code, r] of Object.entries(e.traffic.responses ?? {})) {
    for (const [flag, p] of Object.entries(r.flags)) out.push({ code, flag, percent: Number(p) });
  }
  return out.sort((a, b) => b.percent - a.percent || a.code.localeCompare(b.code));
}

function codeClass(code: string): string {
  if (code.startsWith('5') || code === '0' || code === '-') return 'failure';
  if (code.startsWith('4')) return 'degraded';
  return 'healthy';
}

/**
 * Whether an edge's response time, throughput and mTLS are known: asked
 * with the graph or for the panel (ready), still being asked (pending), or
 * not to be had (unavailable).
 */
export type EdgeDetails = 'ready' | 'pending' | 'unavailable';

export function edgePanel(e: EdgeData, source: NodeData | undefined, target: NodeData | undefined, details: EdgeDetails): HTMLElement {
  const r = e.traffic.rates;
  const proto = e.traffic.protocol;
  const shares = responseShares(e);
  const bar = h('div', { class: 'bar', role: 'img', 'aria-label': 'responses by code' });
  for (const s of shares) {
    bar.appendChild(h('span', { class: `seg ${codeClass(s.code)}`, style: `width:${Math.max(0.5, s.percent)}%`, title: `${s.code} ${s.flag}: ${s.percent}%` }));
  }
  const codes = h('table', { class: 'codes', 'data-test': 'edge-codes' }, h('tr', {}, h('th', {}, 'code'), h('th', {}, 'flags'), h('th', {}, 'share')));
  for (const s of shares) codes.appendChild(h('tr', {}, h('td', {}, s.code), h('td', {}, s.flag), h('td', {}, `${s.percent.toFixed(1)}%`)));
  const total = proto === 'tcp' ? fmt.bytesPerSecond(num(r.tcp)) : fmt.rate(num(proto === 'grpc' ? r.grpc : r.http));
  const errShare = proto === 'grpc' ? r.grpcPercentErr : proto === 'http' ? r.httpPercentErr : undefined;
  const known = details === 'ready';
  const unknown = details === 'pending' ? '…' : 'n/a';
  return h(
    'div',
    { class: 'panel-body', 'data-test': 'edge-panel', 'data-details': details },
    h('h3', {}, `${source ? nodeName(source) : e.source} → ${target ? nodeName(target) : e.target}`),
    h('p', { class: 'muted' }, `${proto.toUpperCase()} edge`),
    h(
      'table',
      {},
      row('rate', total),
      proto !== 'tcp' ? row('error share', fmt.percent(num(errShare) ?? 0)) : undefined,
      proto !== 'tcp' ? row('share of caller', fmt.percent(num(proto === 'grpc' ? r.grpcPercentReq : r.httpPercentReq))) : undefined,
      e.responseTime ? row('response time', fmt.millis(num(e.responseTime))) : known ? undefined : row('response time', unknown),
      e.throughput ? row('throughput', fmt.bytesPerSecond(num(e.throughput))) : known ? undefined : row('throughput', unknown),
      row('mTLS', e.isMTLS ? `${e.isMTLS}%` : known ? 'none' : unknown),
      e.sourcePrincipal ? row('source principal', e.sourcePrincipal) : undefined,
      e.destPrincipal ? row('destination principal', e.destPrincipal) : undefined,
      e.healthStatus ? row('health', e.healthStatus) : undefined,
    ),
    shares.length ? h('h4', {}, 'Responses') : undefined,
    shares.length ? bar : undefined,
    shares.length ? codes : undefined,
    deltaRows(e.compare),
  );
}
