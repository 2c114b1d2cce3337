// The drawing for large graphs. Cytoscape styles and measures every
// element one by one and redraws them all on each frame: past a few
// thousand elements a graph takes seconds to appear and pans at a frame a
// second. This view keeps each element as a few numbers, draws all edges
// of one colour as one path and all nodes of one look in one pass, skips
// what is off screen, and draws labels (nodes', edges', boxes') only once
// zoomed in enough to read them.

import type { Palette } from './style';
import type { Point } from './ranked';
import { fitViewport } from './ranked';

export type Shape = 'circle' | 'square' | 'triangle' | 'diamond' | 'tag';
export type Tone = 'healthy' | 'degraded' | 'failure' | 'none';

export interface CanvasNode {
  id: string;
  parent?: string;
  isBox: boolean;
  shape: Shape;
  /** Border tone: health, or none. */
  tone: Tone;
  label: string;
  dashed: boolean;
  at?: Point;
}

export interface CanvasEdge {
  id: string;
  source: string;
  target: string;
  tone: Tone;
  dashed: boolean;
  width: number;
  marked: boolean;
  /** The edge label the toolbar asks for; empty for none. */
  label: string;
}

const size = 24;
/** From this many elements, moving the view shifts a picture (see moved). */
const textureAbove = 4000;
const labelZoom = 0.5;

export class CanvasView {
  readonly canvas: HTMLCanvasElement;
  private ctx: CanvasRenderingContext2D;
  private nodes = new Map<string, CanvasNode & { at: Point }>();
  private edges: CanvasEdge[] = [];
  private hidden = new Set<string>();
  private found = new Set<string>();
  private selected: string | undefined;
  private scale = 1;
  private offset: Point = { x: 0, y: 0 };
  private frame = 0;
  private rest = 0;
  /** The last full drawing, and the viewport it was drawn at. */
  private snapshot: { image: HTMLCanvasElement; scale: number; offset: Point } | undefined;
  private drag: { x: number; y: number; moved: boolean } | undefined;
  /** The edge labels and box titles of the last drawing. */
  private drawnTitles: string[] = [];
  private resize: ResizeObserver;

  constructor(
    private readonly container: HTMLElement,
    private palette: Palette,
    private readonly onSelect: (id: string | undefined) => void,
  ) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'bigview';
    this.canvas.setAttribute('data-test', 'canvas-view');
    container.appendChild(this.canvas);
    this.ctx = this.canvas.getContext('2d')!;
    // Redrawn when the view's size changes (not for the observer's first call).
    this.resize = new ResizeObserver(() => {
      if (this.canvas.width !== container.clientWidth || this.canvas.height !== container.clientHeight) this.redraw();
    });
    this.resize.observe(container);
    this.canvas.addEventListener('pointerdown', (e) => {
      this.drag = { x: e.clientX, y: e.clientY, moved: false };
      this.canvas.setPointerCapture(e.pointerId);
    });
    this.canvas.addEventListener('pointermove', (e) => {
      if (!this.drag) return;
      const dx = e.clientX - this.drag.x;
      const dy = e.clientY - this.drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) this.drag.moved = true;
      if (this.drag.moved) {
        this.panBy({ x: dx, y: dy });
        this.drag.x = e.clientX;
        this.drag.y = e.clientY;
      }
    });
    this.canvas.addEventListener('pointerup', (e) => {
      const click = this.drag && !this.drag.moved;
      this.drag = undefined;
      if (click) {
        const r = this.canvas.getBoundingClientRect();
        this.onSelect(this.hit({ x: e.clientX - r.left, y: e.clientY - r.top }));
      }
    });
    this.canvas.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const r = this.canvas.getBoundingClientRect();
        this.zoom({ level: this.scale * Math.exp(-e.deltaY * 0.0015), renderedPosition: { x: e.clientX - r.left, y: e.clientY - r.top } });
      },
      { passive: false },
    );
  }

  /** Shows nodes and edges; nodes keep their place when they have one. */
  show(nodes: CanvasNode[], edges: CanvasEdge[], fit: boolean): void {
    const next = new Map<string, CanvasNode & { at: Point }>();
    for (const n of nodes) {
      const at = n.at ?? this.nodes.get(n.id)?.at ?? { x: 0, y: 0 };
      next.set(n.id, { ...n, at });
    }
    this.nodes = next;
    this.edges = edges;
    if (fit) this.fit();
    this.redraw();
  }

  /** Where each node is, for the next layout to keep. */
  positions(): Map<string, Point> {
    return new Map([...this.nodes].map(([id, n]) => [id, n.at]));
  }

  setVisibility(hidden: Set<string>, found: Set<string>): void {
    this.hidden = hidden;
    this.found = found;
    this.redraw();
  }

  select(id: string | undefined): void {
    this.selected = id;
    this.redraw();
  }

  setPalette(p: Palette): void {
    this.palette = p;
    this.redraw();
  }

  has(id: string): boolean {
    return this.nodes.has(id) || this.edges.some((e) => e.id === id);
  }

  isNode(id: string): boolean {
    return this.nodes.has(id);
  }

  // The viewport, with cytoscape's names, for the animation and for tests.
  zoom(o?: { level: number; renderedPosition: Point }): number {
    if (o) {
      const level = Math.min(4, Math.max(0.005, o.level));
      const p = o.renderedPosition;
      this.offset = { x: p.x - ((p.x - this.offset.x) * level) / this.scale, y: p.y - ((p.y - this.offset.y) * level) / this.scale };
      this.scale = level;
      this.moved();
    }
    return this.scale;
  }

  pan(): Point {
    return this.offset;
  }

  panBy(d: Point): void {
    this.offset = { x: this.offset.x + d.x, y: this.offset.y + d.y };
    this.moved();
  }

  /**
   * While the view moves, a graph of many elements is drawn as the picture
   * of its last full drawing, shifted and scaled (as cytoscape's
   * textureOnViewport does); the full drawing follows once it rests.
   */
  private moved(): void {
    if (!this.snapshot || this.nodes.size + this.edges.length < textureAbove) {
      this.redraw();
      return;
    }
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.paintSnapshot();
      });
    }
    clearTimeout(this.rest);
    this.rest = window.setTimeout(() => this.redraw(), 150);
  }

  private paintSnapshot(): void {
    const snap = this.snapshot!;
    const ctx = this.ctx;
    const f = this.scale / snap.scale;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(f, 0, 0, f, this.offset.x - snap.offset.x * f, this.offset.y - snap.offset.y * f);
    ctx.drawImage(snap.image, 0, 0);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  }

  fit(): void {
    const points = [...this.nodes.values()].filter((n) => !n.isBox && !this.hidden.has(n.id)).map((n) => n.at);
    const v = fitViewport(points, this.container.clientWidth, this.container.clientHeight, 30, 2);
    this.scale = v.zoom;
    this.offset = v.pan;
    this.redraw();
  }

  /** Each visible edge's ends in graph coordinates. */
  /** The edge labels and box titles of the last drawing, for tests and users' checks. */
  labels(): string[] {
    return this.drawnTitles;
  }

  forEachEdge(visit: (id: string, s: Point, t: Point) => void): void {
    for (const e of this.edges) {
      if (this.hidden.has(e.id)) continue;
      const s = this.nodes.get(e.source);
      const t = this.nodes.get(e.target);
      if (s && t) visit(e.id, s.at, t.at);
    }
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    clearTimeout(this.rest);
    this.resize.disconnect();
    this.canvas.remove();
  }

  /** The node or edge under a point of the view, if any. */
  private hit(p: Point): string | undefined {
    const w = { x: (p.x - this.offset.x) / this.scale, y: (p.y - this.offset.y) / this.scale };
    const reach = Math.max(size / 2, 6 / this.scale);
    let best: string | undefined;
    let bestD = Infinity;
    for (const n of this.nodes.values()) {
      if (n.isBox || this.hidden.has(n.id)) continue;
      const d = Math.hypot(n.at.x - w.x, n.at.y - w.y);
      if (d < reach && d < bestD) {
        best = n.id;
        bestD = d;
      }
    }
    if (best) return best;
    const edgeReach = 5 / this.scale;
    for (const e of this.edges) {
      if (this.hidden.has(e.id)) continue;
      const s = this.nodes.get(e.source)?.at;
      const t = this.nodes.get(e.target)?.at;
      if (!s || !t) continue;
      const d = segmentDistance(w, s, t);
      if (d < edgeReach && d < bestD) {
        best = e.id;
        bestD = d;
      }
    }
    return best;
  }

  private redraw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.paint();
    });
  }

  private paint(): void {
    const w = this.container.clientWidth;
    const h = this.container.clientHeight;
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    const ctx = this.ctx;
    const p = this.palette;
    const k = this.scale;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.setTransform(k, 0, 0, k, this.offset.x, this.offset.y);
    // What is on screen, in graph coordinates, with a node's margin.
    const x1 = -this.offset.x / k - size;
    const y1 = -this.offset.y / k - size;
    const x2 = (w - this.offset.x) / k + size;
    const y2 = (h - this.offset.y) / k + size;
    const inView = (a: Point) => a.x >= x1 && a.x <= x2 && a.y >= y1 && a.y <= y2;

    // Boxes: a frame around their children, titled above.
    const titles: { text: string; at: Point; left?: boolean }[] = [];
    for (const box of this.nodes.values()) {
      if (!box.isBox || this.hidden.has(box.id)) continue;
      let bx1 = Infinity;
      let by1 = Infinity;
      let bx2 = -Infinity;
      let by2 = -Infinity;
      for (const n of this.nodes.values()) {
        if (n.parent !== box.id || this.hidden.has(n.id)) continue;
        bx1 = Math.min(bx1, n.at.x);
        by1 = Math.min(by1, n.at.y);
        bx2 = Math.max(bx2, n.at.x);
        by2 = Math.max(by2, n.at.y);
      }
      if (bx1 === Infinity) continue;
      ctx.fillStyle = p.box;
      ctx.strokeStyle = p.boxBorder;
      ctx.lineWidth = 1 / k;
      ctx.fillRect(bx1 - size, by1 - size, bx2 - bx1 + 2 * size, by2 - by1 + 2.5 * size);
      ctx.strokeRect(bx1 - size, by1 - size, bx2 - bx1 + 2 * size, by2 - by1 + 2.5 * size);
      if (k >= labelZoom) titles.push({ text: box.label, at: { x: bx1 - size + 2, y: by1 - size - 8 }, left: true });
    }

    // Edges: one path per tone and dash, found and selected ones again on top.
    const tones: Record<Tone, string> = { healthy: p.healthy, degraded: p.degraded, failure: p.failure, none: p.idle };
    const paths = new Map<string, { p: Path2D; n: number }[]>();
    const on: CanvasEdge[] = [];
    for (const e of this.edges) {
      if (this.hidden.has(e.id)) continue;
      const s = this.nodes.get(e.source)?.at;
      const t = this.nodes.get(e.target)?.at;
      if (!s || !t) continue;
      if (!inView(s) && !inView(t) && !crosses(s, t, x1, y1, x2, y2)) continue;
      const key = `${e.tone}|${e.dashed}|${Math.round(e.width)}`;
      let list = paths.get(key);
      if (!list) paths.set(key, (list = []));
      // A path of a few segments: one path of thousands of crossing lines
      // costs the rasterizer far more than many small ones.
      let path = list[list.length - 1];
      if (!path || path.n >= 16) list.push((path = { p: new Path2D(), n: 0 }));
      path.p.moveTo(s.x, s.y);
      path.p.lineTo(t.x, t.y);
      path.n++;
      if (this.found.has(e.id) || e.id === this.selected || e.marked) on.push(e);
      if (k >= labelZoom && e.label) {
        const mid = { x: (s.x + t.x) / 2, y: (s.y + t.y) / 2 };
        if (inView(mid)) titles.push({ text: e.label, at: mid });
      }
    }
    for (const [key, list] of paths) {
      const [tone, dashed, width] = key.split('|');
      ctx.strokeStyle = tones[tone as Tone];
      // Zoomed out, every edge is one pixel wide: the rasterizer's fast
      // hairline path, where wider strokes of thousands of lines take a tenth
      // of a second without a GPU.
      ctx.lineWidth = k < 0.5 ? 1 / k : Math.max(Number(width), 1 / k);
      // Dashes in screen pixels: in graph units, a zoomed-out view would
      // draw thousands of sub-pixel dashes per edge.
      ctx.setLineDash(dashed === 'true' ? [6 / k, 4 / k] : []);
      for (const path of list) ctx.stroke(path.p);
    }
    ctx.setLineDash([]);
    for (const e of on) {
      const s = this.nodes.get(e.source)!.at;
      const t = this.nodes.get(e.target)!.at;
      ctx.strokeStyle = e.id === this.selected ? p.selected : this.found.has(e.id) ? p.find : p.changed;
      ctx.lineWidth = Math.max(e.width + 4, 3 / k);
      ctx.globalAlpha = 0.6;
      ctx.beginPath();
      ctx.moveTo(s.x, s.y);
      ctx.lineTo(t.x, t.y);
      ctx.stroke();
      ctx.globalAlpha = 1;
    }

    // Nodes: halos of found and selected ones first; then every node of
    // one look as one path, filled and stroked once. Under a few pixels a
    // node is a plain square.
    const tiny = size * k < 5;
    const r = size / 2;
    const looks = new Map<string, Path2D>();
    for (const n of this.nodes.values()) {
      if (n.isBox || this.hidden.has(n.id) || !inView(n.at)) continue;
      const { x, y } = n.at;
      if (this.found.has(n.id) || n.id === this.selected) {
        ctx.fillStyle = n.id === this.selected ? p.selected : p.find;
        ctx.globalAlpha = 0.6;
        ctx.beginPath();
        // At least ten pixels across on screen, so that a find shows at any zoom.
        ctx.arc(x, y, Math.max(r + 7, 10 / k), 0, 2 * Math.PI);
        ctx.fill();
        ctx.globalAlpha = 1;
      }
      const key = `${n.tone}|${n.dashed}`;
      let path = looks.get(key);
      if (!path) looks.set(key, (path = new Path2D()));
      if (tiny) path.rect(x - r, y - r, size, size);
      else shapePath(path, n.shape, x, y, r);
    }
    for (const [key, path] of looks) {
      const [tone, dashed] = key.split('|') as [Tone, string];
      if (tiny) {
        ctx.fillStyle = tone === 'none' ? p.nodeBorder : tones[tone];
        ctx.fill(path);
        continue;
      }
      ctx.fillStyle = p.node;
      ctx.fill(path);
      ctx.strokeStyle = tone === 'none' ? p.nodeBorder : tones[tone];
      ctx.lineWidth = tone === 'none' ? 1 : 3;
      ctx.setLineDash(dashed === 'true' ? [4 / k, 3 / k] : []);
      ctx.stroke(path);
    }
    ctx.setLineDash([]);
    if (k >= labelZoom) {
      ctx.fillStyle = p.text;
      ctx.font = '10px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      for (const n of this.nodes.values()) {
        if (n.isBox || this.hidden.has(n.id) || !inView(n.at)) continue;
        n.label.split('\n').forEach((line, i) => ctx.fillText(line, n.at.x, n.at.y + r + 3 + i * 11));
      }
      // Edge labels and box titles, outlined to read over the edges.
      ctx.strokeStyle = p.textOutline;
      ctx.lineWidth = 3;
      ctx.lineJoin = 'round';
      ctx.textBaseline = 'middle';
      for (const { text, at, left } of titles) {
        ctx.textAlign = left ? 'left' : 'center';
        const lines = text.split('\n');
        lines.forEach((line, i) => {
          const y = at.y + (i - (lines.length - 1) / 2) * 11;
          ctx.strokeText(line, at.x, y);
          ctx.fillText(line, at.x, y);
        });
      }
    }
    this.drawnTitles = titles.map((t) => t.text);
    if (this.nodes.size + this.edges.length >= textureAbove) {
      const image = this.snapshot?.image ?? document.createElement('canvas');
      image.width = w;
      image.height = h;
      image.getContext('2d')!.drawImage(this.canvas, 0, 0);
      this.snapshot = { image, scale: k, offset: { ...this.offset } };
    } else {
      this.snapshot = undefined;
    }
  }
}

/** Adds a node's outline to path, as a closed subpath of its own. */
function shapePath(ctx: Path2D, shape: Shape, x: number, y: number, r: number): void {
  switch (shape) {
    case 'square':
    case 'tag':
      ctx.rect(x - r, y - r, 2 * r, 2 * r);
      break;
    case 'triangle':
      ctx.moveTo(x, y - r);
      ctx.lineTo(x + r, y + r);
      ctx.lineTo(x - r, y + r);
      ctx.closePath();
      break;
    case 'diamond':
      ctx.moveTo(x, y - r);
      ctx.lineTo(x + r, y);
      ctx.lineTo(x, y + r);
      ctx.lineTo(x - r, y);
      ctx.closePath();
      break;
    default:
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.closePath();
  }
}

/** Whether the segment s–t crosses the box (both ends outside it). */
function crosses(s: Point, t: Point, x1: number, y1: number, x2: number, y2: number): boolean {
  if ((s.x < x1 && t.x < x1) || (s.x > x2 && t.x > x2) || (s.y < y1 && t.y < y1) || (s.y > y2 && t.y > y2)) return false;
  return true;
}

/** Distance from p to the segment a–b. */
export function segmentDistance(p: Point, a: Point, b: Point): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = dx * dx + dy * dy;
  const t = len === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len));
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}
