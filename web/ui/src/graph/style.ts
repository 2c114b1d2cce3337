// The graph's look, as Kiali draws it: node shapes by kind, edges coloured
// by health, wider with more traffic, dashed for TCP.

import type { StylesheetJson } from 'cytoscape';

export interface Palette {
  text: string;
  textOutline: string;
  node: string;
  nodeBorder: string;
  box: string;
  boxBorder: string;
  healthy: string;
  degraded: string;
  failure: string;
  idle: string;
  find: string;
  selected: string;
  changed: string;
}

export const palettes: Record<'light' | 'dark', Palette> = {
  light: {
    text: '#151515', textOutline: '#ffffff', node: '#ffffff', nodeBorder: '#6a6e73', box: '#f5f5f5', boxBorder: '#b8bbbe',
    healthy: '#3e8635', degraded: '#f0ab00', failure: '#c9190b', idle: '#b8bbbe', find: '#73bcf7', selected: '#0066cc', changed: '#8476d1',
  },
  dark: {
    text: '#e0e0e0', textOutline: '#1b1d21', node: '#26292d', nodeBorder: '#a0a4a8', box: '#202226', boxBorder: '#4f5255',
    healthy: '#5ba352', degraded: '#f4c145', failure: '#f0564a', idle: '#5a5d61', find: '#2b9af3', selected: '#73bcf7', changed: '#b2a3ff',
  },
};

/** The stylesheet, for graphs of up to a few thousand elements (canvas.ts draws bigger ones). */
export function stylesheet(p: Palette): StylesheetJson {
  const sheet: StylesheetJson = [
    {
      selector: 'node',
      style: {
        'background-color': p.node,
        'border-color': p.nodeBorder,
        'border-width': 1,
        width: 24,
        height: 24,
        label: 'data(label)',
        color: p.text,
        'font-size': 10,
        'text-valign': 'bottom',
        'text-halign': 'center',
        'text-margin-y': 3,
        'text-wrap': 'wrap',
        'text-outline-color': p.textOutline,
        'text-outline-width': 2,
        'min-zoomed-font-size': 5,
        shape: 'ellipse',
      },
    },
    { selector: 'node[nodeType = "app"]', style: { shape: 'round-rectangle' } },
    { selector: 'node[nodeType = "service"]', style: { shape: 'round-triangle' } },
    { selector: 'node[nodeType = "unknown"]', style: { shape: 'round-diamond' } },
    { selector: 'node[nodeType = "aggregate"]', style: { shape: 'round-pentagon' } },
    { selector: 'node.serviceentry', style: { shape: 'round-tag' } },
    { selector: 'node.root', style: { 'border-width': 3, 'border-style': 'double' } },
    { selector: 'node.outside', style: { 'background-color': p.box, 'border-style': 'dotted' } },
    { selector: 'node.nosidecar', style: { 'border-color': p.degraded, 'border-width': 2 } },
    { selector: 'node.idle', style: { 'border-style': 'dashed', 'border-color': p.idle, color: p.idle } },
    { selector: 'node.dead', style: { opacity: 0.45 } },
    { selector: 'node.degraded', style: { 'border-color': p.degraded, 'border-width': 3 } },
    { selector: 'node.failure', style: { 'border-color': p.failure, 'border-width': 3 } },
    {
      selector: ':parent',
      style: {
        shape: 'round-rectangle',
        'background-color': p.box,
        'background-opacity': 0.6,
        'border-color': p.boxBorder,
        'text-valign': 'top',
        'text-halign': 'center',
        'font-size': 11,
        padding: '12px',
      },
    },
    {
      selector: 'edge',
      style: {
        width: 'data(width)',
        'line-color': p.healthy,
        'target-arrow-color': p.healthy,
        'target-arrow-shape': 'triangle',
        'arrow-scale': 0.8,
        'curve-style': 'bezier',
        label: 'data(label)',
        'font-size': 8,
        color: p.text,
        'text-outline-color': p.textOutline,
        'text-outline-width': 2,
        'text-rotation': 'autorotate',
        'min-zoomed-font-size': 6,
        opacity: 0.85,
      },
    },
    { selector: 'edge.none', style: { 'line-color': p.idle, 'target-arrow-color': p.idle } },
    { selector: 'edge.degraded', style: { 'line-color': p.degraded, 'target-arrow-color': p.degraded } },
    { selector: 'edge.failure', style: { 'line-color': p.failure, 'target-arrow-color': p.failure } },
    { selector: 'edge.tcp', style: { 'line-style': 'dashed' } },
    {
      selector: 'edge.mtls.security',
      style: { 'source-label': '🔒', 'source-text-offset': 18, 'font-size': 9 },
    },
    { selector: 'edge.changed', style: { 'line-style': 'dotted', 'underlay-color': p.changed, 'underlay-opacity': 0.35, 'underlay-padding': 4 } },
    { selector: 'edge.new, node.new', style: { 'underlay-color': p.changed, 'underlay-opacity': 0.35, 'underlay-padding': 6 } },
    { selector: 'edge.gone', style: { 'line-style': 'dotted', opacity: 0.4 } },
    { selector: 'node.gone', style: { opacity: 0.4 } },
    { selector: '.find', style: { 'underlay-color': p.find, 'underlay-opacity': 0.6, 'underlay-padding': 7 } },
    { selector: ':selected', style: { 'border-color': p.selected, 'border-width': 3, 'line-color': p.selected, 'target-arrow-color': p.selected } },
    { selector: '.hidden', style: { display: 'none' } },
  ];
  return sheet;
}

/** Edge width by request rate: log-scaled, 1 to 8 pixels. */
export function edgeWidth(rate: number | undefined): number {
  if (!rate || rate <= 0) return 1;
  return Math.min(8, 1 + Math.log10(1 + rate) * 2);
}
