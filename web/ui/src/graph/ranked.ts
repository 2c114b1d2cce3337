// A layered layout in linear time, for graphs too large for dagre: columns
// by the longest path from the traffic sources, rows ordered by the mean row
// of each node's callers. Pure: ids and edges in, positions out.

export interface Point {
  x: number;
  y: number;
}

export interface RankedOptions {
  columnGap?: number;
  rowGap?: number;
  /** Rows a column holds before a rank spreads over more columns. */
  maxRows?: number;
  subColumnGap?: number;
}

/** Lays nodes out left to right by call depth. */
export function ranked(ids: string[], edges: [string, string][], o: RankedOptions = {}): Map<string, Point> {
  const columnGap = o.columnGap ?? 220;
  const rowGap = o.rowGap ?? 60;
  const out = new Map<string, string[]>();
  const indegree = new Map<string, number>();
  for (const id of ids) {
    out.set(id, []);
    indegree.set(id, 0);
  }
  for (const [s, t] of edges) {
    if (!out.has(s) || !out.has(t) || s === t) continue;
    out.get(s)!.push(t);
    indegree.set(t, (indegree.get(t) ?? 0) + 1);
  }
  // Kahn's order gives each node a depth; nodes on cycles, never freed,
  // take the depth after their deepest placed caller.
  const depth = new Map<string, number>();
  const queue: string[] = [];
  for (const id of ids) if (indegree.get(id) === 0) queue.push(id);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    const d = depth.get(id) ?? 0;
    depth.set(id, d);
    for (const t of out.get(id)!) {
      depth.set(t, Math.max(depth.get(t) ?? 0, d + 1));
      const left = indegree.get(t)! - 1;
      indegree.set(t, left);
      if (left === 0) queue.push(t);
    }
  }
  for (const id of ids) if (!depth.has(id)) depth.set(id, 0);

  const callers = new Map<string, string[]>();
  for (const [s, t] of edges) {
    if (!out.has(s) || !out.has(t)) continue;
    if (!callers.has(t)) callers.set(t, []);
    callers.get(t)!.push(s);
  }
  const columns: string[][] = [];
  for (const id of ids) {
    const d = depth.get(id)!;
    (columns[d] ??= []).push(id);
  }
  // A rank of more nodes than a column holds is laid out over several
  // narrower columns, row by row, so that a large mesh fills a screen
  // rather than a few columns thousands of rows high.
  const maxRows = o.maxRows ?? Math.max(12, Math.ceil(Math.sqrt(ids.length) * 1.2));
  const subGap = o.subColumnGap ?? 90;
  const row = new Map<string, number>();
  const positions = new Map<string, Point>();
  let x = 0;
  columns.forEach((column) => {
    if (!column) return;
    const key = (id: string): number => {
      const cs = callers.get(id);
      if (!cs || cs.length === 0) return Number.MAX_SAFE_INTEGER;
      let sum = 0;
      let n = 0;
      for (const s of cs) {
        const r = row.get(s);
        if (r !== undefined) {
          sum += r;
          n++;
        }
      }
      return n ? sum / n : Number.MAX_SAFE_INTEGER;
    };
    const keyed = column.map((id) => ({ id, k: key(id) }));
    keyed.sort((a, b) => a.k - b.k || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const subs = Math.ceil(keyed.length / maxRows);
    const rows = Math.ceil(keyed.length / subs);
    const top = -((rows - 1) * rowGap) / 2;
    keyed.forEach(({ id }, i) => {
      const r = Math.floor(i / subs);
      row.set(id, r / rows);
      positions.set(id, { x: x + (i % subs) * subGap, y: top + r * rowGap });
    });
    x += (subs - 1) * subGap + columnGap;
  });
  return positions;
}

/**
 * Where a new node goes: beside the mean of its placed neighbours, or
 * undefined when none is placed.
 */
export function nearNeighbours(neighbours: Point[], salt: number): Point | undefined {
  if (neighbours.length === 0) return undefined;
  let x = 0;
  let y = 0;
  for (const p of neighbours) {
    x += p.x;
    y += p.y;
  }
  // A small offset that differs per node, so that new siblings do not stack.
  const angle = (salt % 12) * (Math.PI / 6);
  return { x: x / neighbours.length + 80 * Math.cos(angle), y: y / neighbours.length + 80 * Math.sin(angle) };
}

/**
 * The zoom and pan that show every point in a width × height view with
 * padding around, zoomed in at most to maxZoom.
 */
export function fitViewport(points: Point[], width: number, height: number, padding: number, maxZoom: number): { zoom: number; pan: Point } {
  if (points.length === 0 || width <= 2 * padding || height <= 2 * padding) return { zoom: 1, pan: { x: width / 2, y: height / 2 } };
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const p of points) {
    x1 = Math.min(x1, p.x);
    y1 = Math.min(y1, p.y);
    x2 = Math.max(x2, p.x);
    y2 = Math.max(y2, p.y);
  }
  // Room for a node and its label around the outermost points.
  x1 -= 40;
  x2 += 40;
  y1 -= 20;
  y2 += 40;
  const zoom = Math.min(maxZoom, (width - 2 * padding) / (x2 - x1), (height - 2 * padding) / (y2 - y1));
  return { zoom, pan: { x: width / 2 - zoom * ((x1 + x2) / 2), y: height / 2 - zoom * ((y1 + y2) / 2) } };
}
