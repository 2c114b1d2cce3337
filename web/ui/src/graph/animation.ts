// Traffic animation: dots along edges, as many as the request rate says,
// as fast as the response time allows, red for the error share. Drawn on a
// canvas over the graph, one frame at a time.

import type { EdgeData } from '../api';
import { num } from './facts';
import type { Point } from './ranked';

/** What the animation reads of a drawing: its viewport and visible edges. */
export interface AnimationSource {
  zoom(): number;
  pan(): Point;
  forEachEdge(visit: (s: Point, t: Point, d: EdgeData) => void): void;
}

/** Dots on an edge: 1 to 6, by the logarithm of its rate. */
export function dotsFor(rate: number): number {
  if (rate <= 0) return 0;
  return Math.max(1, Math.min(6, Math.round(1 + Math.log10(1 + rate) * 2)));
}

/** Seconds a dot takes along an edge: slower for slower responses, 0.6–4 s. */
export function travelSeconds(responseTimeMs: number | undefined): number {
  if (responseTimeMs === undefined || responseTimeMs <= 0) return 1.5;
  return Math.max(0.6, Math.min(4, 0.6 + Math.log10(1 + responseTimeMs) * 0.8));
}

/** How many of an edge's dots are red: its error share, at least one when any. */
export function errorDots(errShare: number, dots: number): number {
  if (errShare <= 0) return 0;
  return Math.max(1, Math.round(errShare * dots));
}

export class TrafficAnimation {
  private canvas: HTMLCanvasElement;
  private frame = 0;
  private running = false;

  constructor(
    private source: AnimationSource,
    container: HTMLElement,
    private readonly colors: () => { ok: string; error: string },
  ) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'animation';
    this.canvas.setAttribute('data-test', 'animation');
    container.appendChild(this.canvas);
  }

  /** Follows another drawing (after a redraw or a switch of renderer). */
  setSource(source: AnimationSource): void {
    this.source = source;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.canvas.hidden = false;
    const tick = (t: number) => {
      if (!this.running) return;
      this.draw(t / 1000);
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  stop(): void {
    this.running = false;
    cancelAnimationFrame(this.frame);
    this.canvas.hidden = true;
  }

  private draw(now: number): void {
    const parent = this.canvas.parentElement;
    if (!parent) return;
    const w = parent.clientWidth;
    const h = parent.clientHeight;
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, w, h);
    const { ok, error } = this.colors();
    const zoom = this.source.zoom();
    const pan = this.source.pan();
    this.source.forEachEdge((s, t, d) => {
      const proto = d.traffic?.protocol;
      const rate = num(proto === 'tcp' ? d.traffic.rates.tcp : proto === 'grpc' ? d.traffic.rates.grpc : d.traffic.rates.http) ?? 0;
      const dots = dotsFor(proto === 'tcp' ? rate / 1024 : rate);
      if (dots === 0) return;
      const errShare = (num(proto === 'grpc' ? d.traffic.rates.grpcPercentErr : d.traffic.rates.httpPercentErr) ?? 0) / 100;
      const period = travelSeconds(num(d.responseTime));
      for (let i = 0; i < dots; i++) {
        const phase = ((now / period + i / dots) % 1 + 1) % 1;
        const x = (s.x + (t.x - s.x) * phase) * zoom + pan.x;
        const y = (s.y + (t.y - s.y) * phase) * zoom + pan.y;
        if (x < 0 || y < 0 || x > w || y > h) continue;
        // The same dots are the errors on every frame: the first share of them.
        ctx.fillStyle = i < errorDots(errShare, dots) ? error : ok;
        ctx.beginPath();
        ctx.arc(x, y, Math.max(1.5, 2.5 * Math.min(1, zoom)), 0, 2 * Math.PI);
        ctx.fill();
      }
    });
  }
}
