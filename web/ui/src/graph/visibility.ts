// What find and hide leave drawn, worked out from the answer alone (no
// drawing), as Kiali decides it: hidden nodes take their edges, nodes left
// with only hidden edges go too (idle ones stay), boxes with nothing
// visible inside go last; found elements are only visible ones.

import type { GraphAnswer } from '../api';
import type { Expression } from '../find/expression';
import type { EdgeFacts, NodeFacts } from './facts';

export interface Visibility {
  hidden: Set<string>;
  found: Set<string>;
  nodes: number;
  edges: number;
}

export function visibility(
  answer: GraphAnswer,
  facts: { nodes: Map<string, NodeFacts>; edges: Map<string, EdgeFacts> },
  find: Expression | undefined,
  hide: Expression | undefined,
): Visibility {
  const hidden = new Set<string>();
  const nodes = answer.elements.nodes.map((n) => n.data);
  const edges = answer.elements.edges.map((e) => e.data);
  if (hide) {
    for (const n of nodes) {
      const f = facts.nodes.get(n.id);
      if (f && !f.isBox && hide.matches(f)) hidden.add(n.id);
    }
    const edgesOf = new Map<string, string[]>();
    for (const e of edges) {
      const f = facts.edges.get(e.id);
      if ((f && hide.matches(f)) || hidden.has(e.source) || hidden.has(e.target)) hidden.add(e.id);
      for (const end of [e.source, e.target]) {
        let list = edgesOf.get(end);
        if (!list) edgesOf.set(end, (list = []));
        list.push(e.id);
      }
    }
    for (const n of nodes) {
      if (n.isBox || hidden.has(n.id) || facts.nodes.get(n.id)?.isIdle) continue;
      const es = edgesOf.get(n.id);
      if (es && es.length > 0 && es.every((id) => hidden.has(id))) hidden.add(n.id);
    }
    // Boxes, innermost first: a box whose children are all hidden goes.
    const children = new Map<string, string[]>();
    for (const n of nodes) {
      if (!n.parent) continue;
      let list = children.get(n.parent);
      if (!list) children.set(n.parent, (list = []));
      list.push(n.id);
    }
    for (let again = true; again; ) {
      again = false;
      for (const [box, kids] of children) {
        if (!hidden.has(box) && kids.every((k) => hidden.has(k))) {
          hidden.add(box);
          again = true;
        }
      }
    }
  }
  const found = new Set<string>();
  if (find) {
    for (const f of [...facts.nodes.values(), ...facts.edges.values()]) {
      if (!hidden.has(f.id) && find.matches(f)) found.add(f.id);
    }
  }
  return {
    hidden,
    found,
    nodes: nodes.filter((n) => !hidden.has(n.id)).length,
    edges: edges.filter((e) => !hidden.has(e.id)).length,
  };
}
