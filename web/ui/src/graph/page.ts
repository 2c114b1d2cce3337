// The graph page: toolbar, find and hide, the drawing, the side panel,
// replay and compare. Everything it shows follows from its URL.

import cytoscape from 'cytoscape';
import type { Core, ElementDefinition, LayoutOptions, NodeSingular } from 'cytoscape';
import dagre from 'cytoscape-dagre';

import { API, APIError } from '../api';
import type { EdgeData, GraphAnswer, NodeData } from '../api';
import { checkbox, h, replace, select } from '../dom';
import * as fmt from '../format';
import { complete, parse, ParseError, presets } from '../find/expression';
import type { Expression } from '../find/expression';
import { TrafficAnimation } from './animation';
import type { AnimationSource } from './animation';
import { edgeFacts, factsOf, num } from './facts';
import type { EdgeFacts, NodeFacts } from './facts';
import { edgeHealth } from './health';
import { visibility } from './visibility';
import { edgePanel, nodeName, nodePanel } from './panel';
import { CanvasView } from './canvas';
import type { Shape } from './canvas';
import { fitViewport, nearNeighbours, ranked } from './ranked';
import type { Point } from './ranked';
import type { NodeRef } from '../route';
import { frameSeconds, heldWindows, replayStart, replayWindows } from './replay';
import { apiQuery, appenders, boxKinds, detailAppenders, durations, edgeLabelModes, graphTypes, layouts, refreshes, renderers, stateQuery } from './state';
import type { BoxKind, GraphState } from './state';
import { edgeWidth, palettes, stylesheet } from './style';

cytoscape.use(dagre);

/** Beyond this many nodes dagre takes seconds: the ranked layout is used. */
export const dagreLimit = 600;
/** Beyond this many edges the animation starts off. */
export const animationLimit = 1000;
/** Beyond this many nodes the graph is not drawn: the browser would stall. */
export const drawLimit = 30000;
/** At this many nodes the drawing drops labels' outlines, arrows and curves. */
export const largeGraph = 1500;

export interface Host {
  api: API;
  /** Makes a page URL under the console's base. */
  href(path: string, query?: URLSearchParams): string;
  /** Replaces the page's query without a reload. */
  setQuery(q: URLSearchParams): void;
  theme(): 'light' | 'dark';
}

const typeLabels: Record<string, string> = { app: 'App graph', versionedApp: 'Versioned app graph', workload: 'Workload graph', service: 'Service graph' };
const edgeLabelNames: Record<string, string> = {
  none: 'No edge labels', trafficRate: 'Request rate', trafficDistribution: 'Request share', rt50: 'Response time p50', rt95: 'Response time p95',
  rt99: 'Response time p99', rtAvg: 'Response time avg', throughput: 'Throughput',
};
const rendererNames: Record<string, string> = { auto: 'Renderer: auto', cytoscape: 'Renderer: cytoscape', canvas: 'Renderer: fast canvas' };
const layoutNames: Record<string, string> = { dagre: 'Layered (dagre)', ranked: 'Layered, fast', grid: 'Compact (grid)' };

/** The compare choices; a time from the URL is offered as itself. */
function compareOptions(current: string): [string, string][] {
  const out: [string, string][] = [['', 'Compare: off'], ['5m', 'vs 5m ago'], ['15m', 'vs 15m ago'], ['1h', 'vs 1h ago'], ['1d', 'vs 1d ago']];
  if (current && !out.some(([v]) => v === current)) {
    const secs = Number(current);
    out.push([current, Number.isInteger(secs) && secs > 0 ? `vs ${fmt.clock(secs)}` : `vs ${current} ago`]);
  }
  return out;
}

export class GraphPage {
  readonly root: HTMLElement;
  private state: GraphState;
  private cy: Core | undefined;
  private canvas: HTMLElement;
  private panel: HTMLElement;
  private message: HTMLElement;
  private warnings: HTMLElement;
  private toolbar: HTMLElement;
  private findRow: HTMLElement;
  private replayBar: HTMLElement;
  private status: HTMLElement;
  private findError: HTMLElement;
  private hideError: HTMLElement;
  private answer: GraphAnswer | undefined;
  private facts: { nodes: Map<string, NodeFacts>; edges: Map<string, EdgeFacts> } = { nodes: new Map(), edges: new Map() };
  private structure = '';
  private timer: number | undefined;
  private inflight: AbortController | undefined;
  /** The side panel's request for what the graph was not asked (see detailAppenders). */
  private details: AbortController | undefined;
  /** The last details fetched, shown while a refresh asks for them again. */
  private lastDetails: { id: string; edge: EdgeData } | undefined;
  private animation: TrafficAnimation | undefined;
  private namespaces: string[] = [];
  private replay: { window: number; playing: boolean; speed: number; timer?: number; dataSince?: number } | undefined;
  private view: CanvasView | undefined;
  private drawnLayout = '';
  private warnLayout = '';

  constructor(
    private readonly host: Host,
    initial: GraphState,
    /** When set, the graph of this node and its neighbours. */
    private readonly node?: NodeRef,
  ) {
    this.state = initial;
    if (initial.queryTime !== undefined) this.replay = { window: 600, playing: false, speed: 1 };
    this.toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'graph options' });
    this.findError = h('div', { class: 'parse-error', 'data-test': 'find-error', role: 'alert' });
    this.hideError = h('div', { class: 'parse-error', 'data-test': 'hide-error', role: 'alert' });
    this.findRow = h('div', { class: 'findbar' });
    this.replayBar = h('div', { class: 'replay', 'data-test': 'replay' });
    this.warnings = h('div', { class: 'warnings', 'data-test': 'warnings', role: 'status' });
    this.canvas = h('div', { class: 'cy', 'data-test': 'graph', 'data-nodes': '0', 'data-edges': '0', 'data-state': 'loading', tabindex: '0' });
    this.message = h('div', { class: 'empty', 'data-test': 'graph-message', hidden: true });
    this.panel = h('aside', { class: 'side', 'data-test': 'side-panel', hidden: true });
    this.status = h('div', { class: 'statusline', 'data-test': 'status' });
    this.root = h(
      'div',
      { class: 'graph-page' },
      this.toolbar,
      this.findRow,
      this.replayBar,
      this.warnings,
      h('div', { class: 'graph-main' }, h('div', { class: 'graph-area' }, this.canvas, this.message), this.panel),
      this.status,
    );
    this.renderToolbar();
    this.renderFind();
    this.renderReplay();
    if (this.replay) void this.boundReplay(false);
    document.addEventListener('keydown', this.onKey);
    void this.loadNamespaces();
    this.refresh();
  }

  /** Stops timers and requests when the page is left. */
  destroy(): void {
    document.removeEventListener('keydown', this.onKey);
    window.clearTimeout(this.timer);
    this.inflight?.abort();
    this.stopReplay();
    this.animation?.stop();
    this.cy?.destroy();
    this.view?.destroy();
  }

  /** Applies patch to the state and its URL; asks for the graph again when told or when the API's answer depends on the change. Says whether it asked. */
  private update(patch: Partial<GraphState>, refetch: boolean): boolean {
    const asked = apiQuery(this.state).toString();
    this.state = { ...this.state, ...patch };
    // A change the graph's answer depends on (an appender turned on by an
    // edge label, security badges, animation; the quantile asked) asks again.
    refetch ||= apiQuery(this.state).toString() !== asked;
    this.host.setQuery(stateQuery(this.state));
    this.renderToolbar();
    if (refetch) this.refresh();
    return refetch;
  }

  private async loadNamespaces(): Promise<void> {
    try {
      this.namespaces = (await this.host.api.namespaces()).map((n) => n.name);
    } catch (e) {
      // Without an inventory the console lists no namespaces; the ones in the URL still work.
      this.namespaces = [];
      if (!(e instanceof APIError && e.code === 404)) this.showWarnings([`namespaces: ${(e as Error).message}`]);
    }
    if (this.state.namespaces.length === 0 && this.namespaces.length > 0) {
      const pick = this.namespaces.filter((n) => !['istio-system', 'kube-system', 'kube-public', 'kube-node-lease'].includes(n));
      this.update({ namespaces: pick.length ? pick : this.namespaces }, true);
      return;
    }
    this.renderToolbar();
  }

  // --- toolbar ---

  private renderToolbar(): void {
    const s = this.state;
    const nsBox = h('details', { class: 'ns-select', 'data-test': 'namespaces' });
    nsBox.appendChild(h('summary', {}, s.namespaces.length ? `Namespaces: ${s.namespaces.join(', ')}` : 'Select namespaces'));
    const list = h('div', { class: 'ns-list' });
    const all = [...new Set([...this.namespaces, ...s.namespaces])].sort();
    for (const ns of all) {
      list.appendChild(
        checkbox(`ns-${ns}`, ns, s.namespaces.includes(ns), (on) => {
          const next = on ? [...s.namespaces, ns] : s.namespaces.filter((n) => n !== ns);
          this.update({ namespaces: next.sort() }, true);
        }),
      );
    }
    if (all.length === 0) list.appendChild(h('p', { class: 'muted' }, 'No namespaces known: give them in the URL, ?namespaces=a,b'));
    nsBox.appendChild(list);
    const wasOpen = this.toolbar.querySelector<HTMLDetailsElement>('details.ns-select')?.open ?? false;
    nsBox.open = wasOpen;

    const widened = this.answer && this.answer.duration > s.duration ? ` (widened to ${fmt.duration(this.answer.duration)})` : '';
    const durationOptions: [string, string][] = durations.map((d) => [String(d), `Last ${fmt.duration(d)}${d === s.duration ? widened : ''}`]);
    if (!durations.includes(s.duration)) durationOptions.unshift([String(s.duration), `Last ${fmt.duration(s.duration)}${widened}`]);

    const display = h('details', { class: 'display', 'data-test': 'display' }, h('summary', {}, 'Display'));
    const dlist = h(
      'div',
      { class: 'ns-list' },
      checkbox('injectServiceNodes', 'Service nodes', s.injectServiceNodes, (v) => this.update({ injectServiceNodes: v }, true)),
      checkbox('idleNodes', 'Idle nodes', s.idleNodes, (v) => this.update({ idleNodes: v }, true)),
      checkbox('security', 'Security', s.security, (v) => {
        this.update({ security: v }, false);
        this.restyle();
      }),
      checkbox('animation', 'Traffic animation', s.animation, (v) => {
        this.update({ animation: v }, false);
        this.applyAnimation();
      }),
      ...boxKinds.map((b) =>
        checkbox(`box-${b}`, `Boxes by ${b}`, s.boxBy.includes(b), (on) => {
          const next: BoxKind[] = on ? [...s.boxBy, b] : s.boxBy.filter((x) => x !== b);
          this.update({ boxBy: boxKinds.filter((k) => next.includes(k)) }, true);
        }),
      ),
    );
    display.appendChild(dlist);
    display.open = this.toolbar.querySelector<HTMLDetailsElement>('details.display')?.open ?? false;

    replace(
      this.toolbar,
      nsBox,
      select('graphType', graphTypes.map((t) => [t, typeLabels[t] ?? t]), s.graphType, (v) => this.update({ graphType: v as GraphState['graphType'], selected: undefined }, true), 'graph type'),
      select('duration', durationOptions, String(s.duration), (v) => this.update({ duration: Number(v) }, true), 'rate window'),
      select('refresh', refreshes.map((r) => [String(r), r === 0 ? 'Pause' : `Every ${fmt.duration(r / 1000)}`]), String(s.refresh), (v) => this.update({ refresh: Number(v) }, true), 'refresh'),
      select('edges', edgeLabelModes.map((m) => [m, edgeLabelNames[m] ?? m]), s.edgeLabels, (v) => {
        // Labels of response times another graph answers (its quantile,
        // its appenders) ask again; the others restyle what is drawn.
        if (!this.update({ edgeLabels: v as GraphState['edgeLabels'] }, false)) this.restyle();
      }, 'edge labels'),
      display,
      select('layout', layouts.map((l) => [l, layoutNames[l] ?? l]), s.layout, (v) => {
        this.update({ layout: v as GraphState['layout'] }, false);
        this.relayout(true);
      }, 'layout'),
      select('renderer', renderers.map((r) => [r, rendererNames[r] ?? r]), s.renderer, (v) => this.update({ renderer: v as GraphState['renderer'] }, true), 'renderer'),
      select(
        'compareTo',
        compareOptions(s.compareTo),
        s.compareTo,
        (v) => this.update({ compareTo: v }, true),
        'compare with',
      ),
      h('button', { type: 'button', 'data-test': 'replay-toggle', 'aria-pressed': String(!!this.replay), onclick: () => this.toggleReplay() }, this.replay ? 'Live' : 'Replay'),
      h('button', { type: 'button', title: 'Refresh now', onclick: () => this.refresh() }, '⟳'),
    );
  }

  private renderFind(): void {
    const box = (kind: 'find' | 'hide', err: HTMLElement): HTMLElement => {
      const input = h('input', { type: 'search', name: kind, placeholder: kind === 'find' ? 'Find… (press / )' : 'Hide…', value: this.state[kind], autocomplete: 'off', spellcheck: 'false', 'aria-label': kind, 'data-test': `${kind}-input` });
      const apply = () => {
        this.update({ [kind]: input.value } as Partial<GraphState>, false);
        this.applyFindHide();
      };
      input.addEventListener('change', apply);
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') apply();
        if (e.key === 'Tab') {
          const options = complete(input.value);
          if (options.length > 0) {
            e.preventDefault();
            const first = options[0]!;
            input.value = input.value.replace(/([!%:\w-]*)$/, (w) => (w.startsWith('!') ? '!' : '') + first);
            err.textContent = options.length > 1 ? `also: ${options.slice(1, 8).join(', ')}` : '';
          }
        }
        if (e.key === 'Escape') input.blur();
      });
      const presetSelect = select(`${kind}-preset`, [['', 'Presets'], ...presets[kind].map((p): [string, string] => [p.expression, `${kind === 'find' ? 'Find' : 'Hide'}: ${p.label}`])], '', (v) => {
        input.value = v;
        apply();
      }, `${kind} presets`);
      return h('div', { class: 'findbox' }, h('div', { class: 'row' }, input, presetSelect), err);
    };
    replace(this.findRow, box('find', this.findError), box('hide', this.hideError));
  }

  // --- fetching ---

  private refresh(): void {
    window.clearTimeout(this.timer);
    if (this.state.namespaces.length === 0) {
      this.showMessage('Pick one or more namespaces to see their traffic.', 'no-namespaces');
      this.schedule();
      return;
    }
    void this.fetchAndDraw();
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    if (this.state.refresh > 0 && !this.replay) {
      this.timer = window.setTimeout(() => this.refresh(), this.state.refresh);
    }
  }

  private async fetchAndDraw(): Promise<void> {
    this.inflight?.abort();
    const ctrl = new AbortController();
    this.inflight = ctrl;
    this.canvas.dataset.state = 'loading';
    const started = performance.now();
    try {
      const answer = this.node
        ? await this.host.api.nodeGraph(this.node, apiQuery(this.state), ctrl.signal)
        : await this.host.api.graph(apiQuery(this.state), ctrl.signal);
      if (ctrl.signal.aborted) return;
      this.answer = answer;
      performance.mark('graph:answered');
      this.draw(answer);
      performance.mark('graph:drawn');
      const took = performance.now() - started;
      this.status.textContent = `${answer.elements.nodes.length} nodes, ${answer.elements.edges.length} edges · ${this.state.queryTime ? `at ${fmt.clock(this.state.queryTime)}` : `updated ${fmt.clock(answer.timestamp)}`} · ${Math.round(took)} ms${this.warnLayout ? ` · ${this.warnLayout}` : ''}`;
    } catch (e) {
      if (ctrl.signal.aborted || (e instanceof DOMException && e.name === 'AbortError')) return;
      this.showError(e as Error);
    } finally {
      if (this.inflight === ctrl) this.inflight = undefined;
      this.schedule();
    }
  }

  private showError(e: Error): void {
    let text = e.message;
    let kind = 'error';
    if (e instanceof APIError) {
      if (e.code === 503) {
        text = `The Prometheus does not answer: ${e.message}. Check that it runs and that the console's --prometheus.url (or external_services.prometheus.url) points at it.`;
        kind = 'prometheus-down';
      } else if (e.code === 404) {
        text = `${e.message}. Pick namespaces that exist.`;
        kind = 'not-found';
      } else if (e.code === 504) {
        text = `The graph took too long: ${e.message}. Pick fewer namespaces or a shorter duration.`;
        kind = 'timeout';
      } else if (e.code === 0) {
        kind = 'console-down';
      }
    }
    this.canvas.dataset.state = 'error';
    this.showMessage(text, kind);
  }

  private showMessage(text: string, kind: string): void {
    this.message.hidden = false;
    this.message.dataset.kind = kind;
    replace(this.message, h('p', {}, text));
    if (kind !== 'empty') {
      this.cy?.elements().remove();
      this.view?.show([], [], false);
      this.setCounts(0, 0);
    }
  }

  private showWarnings(ws: string[]): void {
    replace(this.warnings, ...ws.map((w) => h('div', { class: 'warning' }, w)));
  }

  // --- drawing ---

  private ensureCy(): Core {
    if (this.cy) return this.cy;
    const cy = cytoscape({
      container: this.canvas,
      style: this.sheet(),
      minZoom: 0.02,
      maxZoom: 4,
      boxSelectionEnabled: false,
      textureOnViewport: true,
      hideEdgesOnViewport: false,
      pixelRatio: 1,
    });
    cy.on('tap', 'node, edge', (ev) => this.selectElement(ev.target.id()));
    cy.on('tap', (ev) => {
      if (ev.target === cy) this.selectElement(undefined);
    });
    this.cy = cy;
    // Tests and users' own checks reach the drawing through its container.
    Object.defineProperty(this.canvas, 'cy', { value: cy, configurable: true });
    return cy;
  }

  private draw(answer: GraphAnswer): void {
    const nodes = answer.elements.nodes;
    const edges = answer.elements.edges;
    this.showWarnings(answer.warnings ?? []);
    if (nodes.length > drawLimit) {
      this.showMessage(
        `This graph has ${nodes.length} nodes and ${edges.length} edges, more than a browser draws smoothly (${drawLimit}). Pick fewer namespaces, use the app graph instead of the versioned one, turn service nodes off, or hide part of it (e.g. hide: "httpin < 1").`,
        'too-big',
      );
      this.canvas.dataset.state = 'too-big';
      return;
    }
    if (nodes.length === 0) {
      this.showMessage(
        `No traffic in the last ${fmt.duration(answer.duration)} in ${this.state.namespaces.join(', ')}${this.state.queryTime ? ` at ${fmt.clock(this.state.queryTime)}` : ''}. Widen the duration, turn on idle nodes, or send requests through the mesh.`,
        'empty',
      );
      this.cy?.elements().remove();
      this.view?.show([], [], false);
      this.setCounts(0, 0);
      this.canvas.dataset.state = 'empty';
      this.renderToolbar();
      return;
    }
    this.message.hidden = true;
    const seen = new Set(nodes.map((n) => n.data.namespace));
    const silent = this.state.namespaces.filter((ns) => !seen.has(ns));
    if (silent.length) this.showWarnings([...(answer.warnings ?? []), `No traffic in namespace ${silent.join(', ')} in this window.`]);

    this.facts = factsOf(answer);
    performance.mark('graph:facts');
    const structure = [this.state.graphType, this.state.namespaces.join(','), this.state.boxBy.join(','), this.state.injectServiceNodes].join('|');
    const structureChanged = structure !== this.structure;
    this.structure = structure;
    const canvas = this.state.renderer === 'canvas' || (this.state.renderer === 'auto' && nodes.length >= largeGraph);
    if (canvas) this.drawCanvas(answer, structureChanged);
    else this.drawCy(answer, structureChanged);
    performance.mark('graph:laid-out');
    this.applyFindHide();
    if (this.state.selected && this.elementData(this.state.selected)) {
      this.showPanel(this.state.selected);
    } else if (this.state.selected) {
      this.panel.hidden = true;
    }
    this.applyAnimation(true);
    this.renderToolbar();
    this.canvas.dataset.state = 'drawn';
  }

  /** Draws with cytoscape: every shape, label and style Kiali users know. */
  private drawCy(answer: GraphAnswer, structureChanged: boolean): void {
    const nodes = answer.elements.nodes;
    const edges = answer.elements.edges;
    const structure = this.structure;
    if (this.view) {
      this.view.destroy();
      this.view = undefined;
      Object.defineProperty(this.canvas, 'view', { value: undefined, configurable: true });
    }
    const cy = this.ensureCy();

    // One pass over what is drawn; data is set only where it changed, so
    // that a refresh restyles what moved, not the whole graph.
    if (structureChanged) cy.elements().remove();
    const drawnNow = new Map<string, cytoscape.SingularElementReturnValue>();
    cy.elements().forEach((el) => {
      drawnNow.set(el.id(), el);
    });
    const layoutKey = `${this.state.layout}|${structure}`;
    const newNodes = nodes.filter((n) => !drawnNow.has(n.data.id)).length;
    const fullLayout = layoutKey !== this.drawnLayout || newNodes > 0.5 * nodes.length;
    // The fast layered layout is computed before adding, so the elements
    // arrive in place: no layout pass over the drawn graph.
    const leaves = nodes.filter((n) => !n.data.isBox);
    const presetPositions = fullLayout && this.layoutName(leaves.length) === 'ranked'
      ? ranked(leaves.map((n) => n.data.id), edges.map((e) => [e.data.source, e.data.target] as [string, string]))
      : undefined;
    const wanted = new Set<string>();
    const defs: ElementDefinition[] = [];
    cy.batch(() => {
      const sync = (id: string, group: 'nodes' | 'edges', data: Record<string, unknown>, classes: string[]) => {
        wanted.add(id);
        const sig = JSON.stringify(data) + classes.join(' ');
        const el = drawnNow.get(id);
        if (!el) {
          const def: ElementDefinition = { group, data: { ...data, sig }, classes };
          const at = presetPositions?.get(id);
          if (at) def.position = { ...at };
          defs.push(def);
        } else if (el.data('sig') !== sig) {
          el.data({ ...data, sig });
          el.classes(classes);
        }
      };
      for (const n of nodes) sync(n.data.id, 'nodes', this.nodeData(n.data), this.nodeClasses(n.data));
      for (const e of edges) sync(e.data.id, 'edges', this.edgeData(e.data), this.edgeClasses(e.data));
      if (drawnNow.size > 0) cy.elements().filter((el) => !wanted.has(el.id())).remove();
    });
    // Nodes before edges: an edge needs both ends.
    const ordered = [...defs.filter((d) => d.group === 'nodes'), ...defs.filter((d) => d.group === 'edges')];
    if (presetPositions) {
      this.drawnLayout = layoutKey;
      // Fitted from the positions computed, not from the drawn bounds,
      // which would style and measure every element first.
      cy.viewport(fitViewport([...presetPositions.values()], this.canvas.clientWidth, this.canvas.clientHeight, 30, 4));
    }
    cy.add(ordered);
    performance.mark('graph:added');
    if (fullLayout && !presetPositions) {
      this.relayout(true);
    } else if (!fullLayout && newNodes > 0) {
      this.placeNewNodes();
    }
  }

  /** Draws a large graph on the canvas view (see canvas.ts). */
  private drawCanvas(answer: GraphAnswer, structureChanged: boolean): void {
    if (this.cy) {
      this.cy.destroy();
      this.cy = undefined;
      Object.defineProperty(this.canvas, 'cy', { value: undefined, configurable: true });
    }
    const nodes = answer.elements.nodes.map((n) => n.data);
    const edges = answer.elements.edges.map((e) => e.data);
    const view = this.ensureView();
    const layoutKey = `ranked|${this.structure}`;
    const known = structureChanged ? new Map<string, Point>() : view.positions();
    const fresh = nodes.filter((n) => !n.isBox && !known.has(n.id)).length;
    const full = layoutKey !== this.drawnLayout || fresh > 0.5 * nodes.length;
    const leaves = nodes.filter((n) => !n.isBox);
    let at: Map<string, Point>;
    if (full) {
      at = ranked(leaves.map((n) => n.id), edges.map((e) => [e.source, e.target] as [string, string]));
      this.drawnLayout = layoutKey;
      this.warnLayout = this.state.layout === 'ranked' || this.state.renderer === 'canvas' ? '' : `layered fast: ${leaves.length} nodes are drawn on the fast canvas`;
    } else {
      at = new Map(known);
      const neighbours = new Map<string, string[]>();
      for (const e of edges) {
        (neighbours.get(e.source) ?? neighbours.set(e.source, []).get(e.source)!).push(e.target);
        (neighbours.get(e.target) ?? neighbours.set(e.target, []).get(e.target)!).push(e.source);
      }
      let salt = 0;
      for (const n of leaves) {
        if (at.has(n.id)) continue;
        const around = (neighbours.get(n.id) ?? []).map((id) => at.get(id)).filter((p): p is Point => !!p);
        at.set(n.id, nearNeighbours(around, salt++) ?? { x: 40 * salt, y: -120 });
      }
    }
    const shapes: Record<string, Shape> = { app: 'square', service: 'triangle', unknown: 'diamond', workload: 'circle', aggregate: 'square' };
    view.show(
      nodes.map((n) => ({
        id: n.id,
        parent: n.parent,
        isBox: !!n.isBox,
        shape: n.isServiceEntry ? 'tag' : (shapes[n.nodeType] ?? 'circle'),
        tone: n.healthStatus === 'Failure' ? 'failure' : n.healthStatus === 'Degraded' || n.hasMissingSC ? 'degraded' : 'none',
        label: this.label(n),
        dashed: !!n.isIdle,
        at: at.get(n.id),
      })),
      edges.map((e) => {
        const proto = e.traffic.protocol;
        const rate = num(proto === 'tcp' ? e.traffic.rates.tcp : proto === 'grpc' ? e.traffic.rates.grpc : e.traffic.rates.http);
        return {
          id: e.id,
          source: e.source,
          target: e.target,
          tone: edgeHealth(edgeFacts(e), e.healthStatus),
          dashed: proto === 'tcp',
          width: edgeWidth(proto === 'tcp' ? (rate ?? 0) / 1024 : rate),
          marked: !!e.compare && e.compare.change !== 'same',
          label: this.edgeLabel(e),
        };
      }),
      full,
    );
  }

  private ensureView(): CanvasView {
    if (this.view) return this.view;
    this.view = new CanvasView(this.canvas, palettes[this.host.theme()], (id) => this.selectElement(id));
    // Tests and users' own checks reach the drawing through its container.
    Object.defineProperty(this.canvas, 'view', { value: this.view, configurable: true });
    return this.view;
  }

  private label(d: NodeData): string {
    let name = nodeName(d);
    if (d.nodeType === 'app' && d.version && this.state.graphType === 'versionedApp') name = `${d.app ?? ''}\n${d.version}`;
    const badges: string[] = [];
    if (d.hasMissingSC) badges.push('⊘');
    if (d.isRoot) badges.push('⇢');
    if (d.hasVS) badges.push('⑂');
    if (d.validation === 'error') badges.push('✖');
    else if (d.validation === 'warning') badges.push('⚠');
    if (badges.length) name = `${badges.join('')} ${name}`;
    if (d.isOutside) name += `\n(${d.namespace})`;
    return name;
  }

  private nodeData(d: NodeData): Record<string, unknown> {
    const out: Record<string, unknown> = { ...d, label: this.label(d) };
    if (d.parent === undefined) delete out.parent;
    return out;
  }

  private nodeClasses(d: NodeData): string[] {
    const c: string[] = [];
    if (d.isRoot) c.push('root');
    if (d.isOutside) c.push('outside');
    if (d.hasMissingSC) c.push('nosidecar');
    if (d.isIdle) c.push('idle');
    if (d.isDead) c.push('dead');
    if (d.isServiceEntry) c.push('serviceentry');
    if (d.healthStatus === 'Failure') c.push('failure');
    if (d.healthStatus === 'Degraded') c.push('degraded');
    if (d.compare && d.compare.change !== 'same') c.push(d.compare.change);
    return c;
  }

  private edgeLabel(d: EdgeData): string {
    const r = d.traffic.rates;
    const proto = d.traffic.protocol;
    switch (this.state.edgeLabels) {
      case 'trafficRate': {
        if (proto === 'tcp') return fmt.bytesPerSecond(num(r.tcp));
        const rate = num(proto === 'grpc' ? r.grpc : r.http);
        const err = num(proto === 'grpc' ? r.grpcPercentErr : r.httpPercentErr);
        return `${fmt.rate(rate)}${err ? `\n${fmt.percent(err)} err` : ''}`;
      }
      case 'trafficDistribution': {
        const share = num(proto === 'grpc' ? r.grpcPercentReq : r.httpPercentReq);
        return share === undefined ? '' : fmt.percent(share);
      }
      case 'rt50':
      case 'rt95':
      case 'rt99':
      case 'rtAvg':
        return d.responseTime ? fmt.millis(num(d.responseTime)) : '';
      case 'throughput':
        return d.throughput ? fmt.bytesPerSecond(num(d.throughput)) : '';
      default:
        return '';
    }
  }

  private edgeData(d: EdgeData): Record<string, unknown> {
    const proto = d.traffic.protocol;
    const rate = num(proto === 'tcp' ? d.traffic.rates.tcp : proto === 'grpc' ? d.traffic.rates.grpc : d.traffic.rates.http);
    return { ...d, label: this.edgeLabel(d), width: edgeWidth(proto === 'tcp' ? (rate ?? 0) / 1024 : rate) };
  }

  private edgeClasses(d: EdgeData): string[] {
    const c: string[] = [edgeHealth(edgeFacts(d), d.healthStatus)];
    if (d.traffic.protocol === 'tcp') c.push('tcp');
    if (num(d.isMTLS)) c.push('mtls');
    if (this.state.security) c.push('security');
    if (d.compare && d.compare.change !== 'same') c.push(d.compare.change);
    return c;
  }

  /** Re-labels and re-classes what is drawn after a display option changed. */
  private restyle(): void {
    const cy = this.cy;
    if (this.view && !cy && this.answer) this.drawCanvas(this.answer, false);
    if (!cy || !this.answer) return;
    cy.batch(() => {
      for (const e of this.answer!.elements.edges) {
        const el = cy.getElementById(e.data.id);
        if (el.nonempty()) {
          el.data('label', this.edgeLabel(e.data));
          el.classes(this.edgeClasses(e.data));
        }
      }
    });
    this.applyFindHide();
  }

  /** The layout drawn: dagre gives way to the fast layered one on large graphs. */
  private layoutName(nodes: number): GraphState['layout'] {
    if (this.state.layout === 'dagre' && nodes > dagreLimit) {
      this.warnLayout = `layered fast: dagre takes seconds beyond ${dagreLimit} nodes`;
      return 'ranked';
    }
    this.warnLayout = '';
    return this.state.layout;
  }

  private relayout(full: boolean): void {
    const cy = this.cy;
    if (!cy || cy.nodes().empty()) return;
    this.drawnLayout = `${this.state.layout}|${this.structure}`;
    const leaves = cy.nodes().filter((n) => !n.isParent());
    const name = this.layoutName(leaves.length);
    let options: LayoutOptions;
    if (name === 'ranked') {
      const positions = ranked(
        leaves.map((n) => n.id()),
        cy.edges().map((e) => [e.source().id(), e.target().id()] as [string, string]),
      );
      options = { name: 'preset', positions: (n: NodeSingular) => positions.get(n.id()) ?? { x: 0, y: 0 }, fit: full, padding: 30, animate: false } as LayoutOptions;
    } else if (name === 'grid') {
      options = { name: 'grid', fit: full, padding: 30, avoidOverlap: true, animate: false, condense: true } as LayoutOptions;
    } else {
      options = { name: 'dagre', rankDir: 'LR', nodeSep: 20, rankSep: 90, fit: full, padding: 30, animate: false } as LayoutOptions;
    }
    cy.layout(options).run();
  }

  /** New nodes go beside their neighbours; nodes that stay keep their place. */
  private placeNewNodes(): void {
    const cy = this.cy;
    if (!cy) return;
    const placed = new Set<string>();
    cy.nodes().forEach((n) => {
      const p = n.position();
      if (p.x !== 0 || p.y !== 0) placed.add(n.id());
    });
    let salt = 0;
    cy.nodes()
      .filter((n) => !placed.has(n.id()) && !n.isParent())
      .forEach((n) => {
        const around: Point[] = n
          .neighborhood()
          .nodes()
          .filter((m: NodeSingular) => placed.has(m.id()))
          .map((m: NodeSingular) => m.position());
        const at = nearNeighbours(around, salt++) ?? { x: 40 * salt, y: -120 };
        n.position(at);
        placed.add(n.id());
      });
  }

  // --- find and hide ---

  private parseBox(kind: 'find' | 'hide', err: HTMLElement): Expression | undefined {
    try {
      const e = parse(this.state[kind]);
      err.textContent = '';
      err.hidden = true;
      if (e) {
        // Operands that need a display option turn it on, as Kiali does.
        if (e.enables.has('security') && !this.state.security) this.update({ security: true }, false);
        if (e.enables.has('idleNodes') && !this.state.idleNodes) this.update({ idleNodes: true }, true);
        if (e.enables.has('responseTime') && !this.state.edgeLabels.startsWith('rt')) this.update({ edgeLabels: 'rt95' }, false);
        if (e.enables.has('throughput') && this.state.edgeLabels !== 'throughput') this.update({ edgeLabels: 'throughput' }, false);
      }
      return e;
    } catch (x) {
      if (!(x instanceof ParseError)) throw x;
      err.textContent = `${kind === 'find' ? 'Find' : 'Hide'}: ${x.message}`;
      err.hidden = false;
      return undefined;
    }
  }

  private applyFindHide(): void {
    const find = this.parseBox('find', this.findError);
    const hide = this.parseBox('hide', this.hideError);
    if (!this.answer || (!this.cy && !this.view)) return;
    const v = visibility(this.answer, this.facts, find, hide);
    const cy = this.cy;
    if (cy) {
      cy.batch(() => {
        cy.elements('.hidden, .find').removeClass('hidden find');
        cy.elements().forEach((el) => {
          const id = el.id();
          if (v.hidden.has(id)) el.addClass('hidden');
          else if (v.found.has(id)) el.addClass('find');
        });
      });
    }
    this.view?.setVisibility(v.hidden, v.found);
    this.setCounts(v.nodes, v.edges);
    this.canvas.dataset.found = String(v.found.size);
  }

  private setCounts(nodes: number, edges: number): void {
    this.canvas.dataset.nodes = String(nodes);
    this.canvas.dataset.edges = String(edges);
  }

  // --- selection ---

  private selectElement(id: string | undefined): void {
    this.update({ selected: id }, false);
    if (id) this.showPanel(id);
    else {
      this.panel.hidden = true;
      this.cy?.elements().unselect();
      this.view?.select(undefined);
    }
  }

  /** The answer's node or edge of an id. */
  private elementData(id: string): { node?: NodeData; edge?: EdgeData } | undefined {
    const node = this.answer?.elements.nodes.find((n) => n.data.id === id)?.data;
    if (node) return { node };
    const edge = this.answer?.elements.edges.find((e) => e.data.id === id)?.data;
    return edge ? { edge } : undefined;
  }

  private showPanel(id: string): void {
    const found = this.elementData(id);
    if (!found || !this.answer) return;
    this.cy?.elements().unselect();
    this.cy?.getElementById(id).select();
    this.view?.select(id);
    this.details?.abort();
    this.details = undefined;
    if (found.node) {
      this.setPanel(nodePanel(found.node, this.links(found.node)));
      return;
    }
    const d = found.edge!;
    const nodeById = new Map(this.answer.elements.nodes.map((n) => [n.data.id, n.data]));
    const source = nodeById.get(d.source);
    const target = nodeById.get(d.target);
    const asked = appenders(this.state);
    if (detailAppenders.every((a) => asked.includes(a))) {
      this.setPanel(edgePanel(d, source, target, 'ready'));
      return;
    }
    const last = this.lastDetails?.id === id ? this.lastDetails.edge : undefined;
    this.setPanel(last ? edgePanel(withDetails(d, last), source, target, 'ready') : edgePanel(d, source, target, 'pending'));
    void this.fillEdgeDetails(id, d, source, target);
  }

  private setPanel(body: HTMLElement): void {
    replace(this.panel, h('button', { type: 'button', class: 'close', 'aria-label': 'close', onclick: () => this.selectElement(undefined) }, '×'), body);
    this.panel.hidden = false;
  }

  /**
   * The selected edge's response time, throughput and mTLS, which the
   * graph was not asked for: from the graph of one of its ends (a query of
   * that node's edges, cheap on any mesh), where the same edge has the
   * same id.
   */
  private async fillEdgeDetails(id: string, d: EdgeData, source: NodeData | undefined, target: NodeData | undefined): Promise<void> {
    const ctrl = new AbortController();
    this.details = ctrl;
    const q = apiQuery(this.state);
    q.delete('appenders'); // the API's default: every appender
    let detailed: EdgeData | undefined;
    for (const end of [source, target]) {
      const ref = end && nodeRef(end);
      if (!ref) continue;
      try {
        const answer = await this.host.api.nodeGraph(ref, q, ctrl.signal);
        detailed = answer.elements.edges.find((e) => e.data.id === id)?.data;
      } catch (e) {
        if (ctrl.signal.aborted) return;
        // The panel says the details are unavailable below.
      }
      if (detailed) break;
    }
    if (ctrl.signal.aborted || this.state.selected !== id) return;
    this.details = undefined;
    this.lastDetails = detailed ? { id, edge: detailed } : undefined;
    this.setPanel(edgePanel(detailed ? withDetails(d, detailed) : d, source, target, detailed ? 'ready' : 'unavailable'));
  }

  private links(d: NodeData): { nodeGraph?: string; details?: string } {
    const ref = nodeRef(d);
    if (!ref) return {};
    const q = new URLSearchParams({ graphType: this.state.graphType, duration: String(this.state.duration) });
    const path = `namespaces/${encodeURIComponent(ref.namespace)}/${ref.kind}/${encodeURIComponent(ref.name)}`;
    return { nodeGraph: this.host.href(`${path}/graph`, q), details: this.host.href(path) };
  }

  // --- animation ---

  private applyAnimation(fromDraw = false): void {
    const source = this.animationSource();
    if (!source) {
      this.animation?.stop();
      return;
    }
    const edges = this.answer?.elements.edges.length ?? 0;
    if (fromDraw && this.state.animation && edges > animationLimit && !this.animation) {
      // Off by default on large graphs: turn it on in Display.
      this.update({ animation: false }, false);
    }
    if (this.state.animation) {
      const p = () => palettes[this.host.theme()];
      this.animation ??= new TrafficAnimation(source, this.canvas.parentElement!, () => ({ ok: p().healthy, error: p().failure }));
      this.animation.setSource(source);
      this.animation.start();
    } else {
      this.animation?.stop();
    }
  }

  /** The drawing as the animation reads it. */
  private animationSource(): AnimationSource | undefined {
    const cy = this.cy;
    if (cy) {
      return {
        zoom: () => cy.zoom(),
        pan: () => cy.pan(),
        forEachEdge: (visit) => cy.edges(':visible').forEach((e) => visit(e.sourceEndpoint(), e.targetEndpoint(), e.data())),
      };
    }
    const view = this.view;
    if (!view) return undefined;
    const byId = new Map((this.answer?.elements.edges ?? []).map((e) => [e.data.id, e.data]));
    return {
      zoom: () => view.zoom(),
      pan: () => view.pan(),
      forEachEdge: (visit) =>
        view.forEachEdge((id, s, t) => {
          const d = byId.get(id);
          if (d) visit(s, t, d);
        }),
    };
  }

  // --- replay ---

  private toggleReplay(): void {
    if (this.replay) {
      this.stopReplay();
      this.replay = undefined;
      this.update({ queryTime: undefined }, true);
    } else {
      this.replay = { window: 600, playing: false, speed: 1 };
      this.update({ queryTime: Math.floor(Date.now() / 1000) - 600 }, true);
    }
    this.renderReplay();
    void this.boundReplay(true);
  }

  /**
   * Bounds replay by what the store holds: its windows and the slider's
   * start; moves the time into the data when into is set (a time from the
   * URL stays as asked).
   */
  private async boundReplay(into: boolean): Promise<void> {
    const r = this.replay;
    if (!r) return;
    try {
      r.dataSince = (await this.host.api.config()).prometheus.dataSince;
    } catch (e) {
      this.showWarnings([`replay cannot tell how far back the store reaches: ${(e as Error).message}`]);
      return;
    }
    if (this.replay !== r) return;
    const now = Math.floor(Date.now() / 1000);
    const held = heldWindows(now, r.dataSince);
    if (!held.includes(r.window)) r.window = held[held.length - 1] ?? replayWindows[0]!;
    const start = replayStart(now, r.window, r.dataSince);
    if (into && (this.state.queryTime ?? 0) < start) this.seek(start);
    else this.renderReplay();
  }

  private frameSeconds(): number {
    return frameSeconds(this.replay?.window ?? 600);
  }

  private renderReplay(): void {
    const r = this.replay;
    if (!r) {
      this.replayBar.hidden = true;
      replace(this.replayBar);
      return;
    }
    this.replayBar.hidden = false;
    const now = Math.floor(Date.now() / 1000);
    const start = replayStart(now, r.window, r.dataSince);
    const t = this.state.queryTime ?? start;
    const slider = h('input', { type: 'range', min: String(start), max: String(now), step: String(this.frameSeconds()), value: String(t), 'aria-label': 'replay time', 'data-test': 'replay-slider' });
    slider.addEventListener('change', () => this.seek(Number(slider.value)));
    replace(
      this.replayBar,
      select('replay-window', heldWindows(now, r.dataSince).map((w) => [String(w), `Last ${fmt.duration(w)}`]), String(r.window), (v) => {
        r.window = Number(v);
        this.seek(Math.max(this.state.queryTime ?? 0, replayStart(Math.floor(Date.now() / 1000), r.window, r.dataSince)));
      }, 'replay window'),
      h('button', { type: 'button', 'data-test': 'replay-play', onclick: () => (r.playing ? this.pauseReplay() : this.playReplay()) }, r.playing ? 'Pause' : 'Play'),
      select('replay-speed', [['1', '1×'], ['2', '2×'], ['4', '4×'], ['8', '8×']], String(r.speed), (v) => {
        r.speed = Number(v);
        if (r.playing) this.playReplay();
      }, 'replay speed'),
      slider,
      h('span', { class: 'replay-time', 'data-test': 'replay-time' }, `${fmt.clock(t)} (rate window ${fmt.duration(this.answer?.duration ?? this.state.duration)})`),
    );
  }

  private seek(t: number): void {
    const now = Math.floor(Date.now() / 1000);
    this.update({ queryTime: Math.min(now, Math.max(1, Math.round(t))) }, true);
    this.renderReplay();
  }

  /** Steps replay by frames; arrows call it. */
  step(frames: number): void {
    if (!this.replay) return;
    this.seek((this.state.queryTime ?? Math.floor(Date.now() / 1000)) + frames * this.frameSeconds());
  }

  private playReplay(): void {
    const r = this.replay;
    if (!r) return;
    window.clearInterval(r.timer);
    r.playing = true;
    r.timer = window.setInterval(() => {
      const next = (this.state.queryTime ?? 0) + this.frameSeconds();
      if (next >= Math.floor(Date.now() / 1000)) this.pauseReplay();
      else this.seek(next);
    }, 1000 / r.speed);
    this.renderReplay();
  }

  private pauseReplay(): void {
    if (!this.replay) return;
    window.clearInterval(this.replay.timer);
    this.replay.playing = false;
    this.renderReplay();
  }

  private stopReplay(): void {
    if (this.replay) window.clearInterval(this.replay.timer);
  }

  private onKey = (e: KeyboardEvent): void => {
    const t = e.target as HTMLElement | null;
    const typing = t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA');
    if (e.key === '/' && !typing) {
      e.preventDefault();
      this.findRow.querySelector<HTMLInputElement>('input[name=find]')?.focus();
    } else if (e.key === 'Escape' && !typing) {
      this.selectElement(undefined);
    } else if ((e.key === 'ArrowLeft' || e.key === 'ArrowRight') && !typing && this.replay) {
      e.preventDefault();
      this.step(e.key === 'ArrowLeft' ? -1 : 1);
    }
  };

  /** Redraws with the current theme. */
  retheme(): void {
    this.cy?.style(this.sheet());
    this.view?.setPalette(palettes[this.host.theme()]);
  }

  private sheet() {
    return stylesheet(palettes[this.host.theme()]);
  }
}

/** Edge d with the response time, throughput and mTLS of the same edge from a graph asked for them. */
function withDetails(d: EdgeData, detailed: EdgeData): EdgeData {
  return { ...d, responseTime: detailed.responseTime, throughput: detailed.throughput, isMTLS: detailed.isMTLS, sourcePrincipal: detailed.sourcePrincipal, destPrincipal: detailed.destPrincipal };
}

/** The API's name of a node that has a graph and a details page of its own. */
function nodeRef(d: NodeData): NodeRef | undefined {
  const kind = d.nodeType === 'service' ? 'services' : d.nodeType === 'workload' ? 'workloads' : d.nodeType === 'app' ? 'applications' : undefined;
  const name = d.nodeType === 'service' ? d.service : d.nodeType === 'workload' ? d.workload : d.app;
  return kind && name ? { namespace: d.namespace, kind, name } : undefined;
}
