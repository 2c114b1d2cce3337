import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { GraphAnswer } from '../src/api';
import { parse } from '../src/find/expression';
import { factsOf } from '../src/graph/facts';
import { visibility } from '../src/graph/visibility';

// gw -> productpage -> reviews -> ratings, productpage -> details; an idle
// node; reviews and ratings in an app box each.
const answer: GraphAnswer = {
  timestamp: 0, duration: 60, graphType: 'workload',
  elements: {
    nodes: [
      { data: { id: 'gw', namespace: 'istio-system', nodeType: 'workload', workload: 'gw', isRoot: true } },
      { data: { id: 'pp', namespace: 'bookinfo', nodeType: 'workload', workload: 'productpage' } },
      { data: { id: 'boxr', namespace: 'bookinfo', nodeType: 'box', isBox: 'app', app: 'reviews' } },
      { data: { id: 'rv', namespace: 'bookinfo', nodeType: 'workload', workload: 'reviews', app: 'reviews', parent: 'boxr' } },
      { data: { id: 'ra', namespace: 'bookinfo', nodeType: 'workload', workload: 'ratings' } },
      { data: { id: 'dt', namespace: 'bookinfo', nodeType: 'workload', workload: 'details' } },
      { data: { id: 'idle', namespace: 'bookinfo', nodeType: 'workload', workload: 'idle', isIdle: true } },
    ],
    edges: [
      { data: { id: 'e1', source: 'gw', target: 'pp', traffic: { protocol: 'http', rates: { http: '5.00' } } } },
      { data: { id: 'e2', source: 'pp', target: 'rv', traffic: { protocol: 'http', rates: { http: '2.00' } } } },
      { data: { id: 'e3', source: 'rv', target: 'ra', traffic: { protocol: 'http', rates: { http: '1.00' } } } },
      { data: { id: 'e4', source: 'pp', target: 'dt', traffic: { protocol: 'http', rates: { http: '2.00', httpPercentErr: '50.0' } } } },
    ],
  },
};
const facts = factsOf(answer);
const sorted = (s: Set<string>) => [...s].sort();

describe('what find and hide leave drawn', () => {
  it('nothing hidden: every element counts', () => {
    const v = visibility(answer, facts, undefined, undefined);
    assert.deepEqual([v.nodes, v.edges, v.hidden.size], [7, 4, 0]);
  });
  it('a hidden node takes its edges, a node left with only hidden edges goes, its emptied box too', () => {
    const v = visibility(answer, facts, undefined, parse('wl = reviews'));
    // reviews goes with e2 and e3; ratings had only e3; the reviews box is empty.
    assert.deepEqual(sorted(v.hidden), ['boxr', 'e2', 'e3', 'ra', 'rv']);
    assert.deepEqual([v.nodes, v.edges], [4, 2]);
  });
  it('a hidden edge leaves its ends when they keep other edges; idle nodes stay', () => {
    const v = visibility(answer, facts, undefined, parse('%httperr > 10'));
    assert.deepEqual(sorted(v.hidden), ['dt', 'e4']);
  });
  it('find marks only what stays visible; hide wins', () => {
    const v = visibility(answer, facts, parse('http >= 1'), parse('wl = reviews'));
    assert.deepEqual(sorted(v.found), ['e1', 'e4']);
  });
});
