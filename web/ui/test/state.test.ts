import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { apiQuery, defaults, parseState, stateQuery } from '../src/graph/state';
import type { GraphState } from '../src/graph/state';
import { route } from '../src/route';

describe('the graph page state in the URL', () => {
  it('a state survives the URL and back', () => {
    const s: GraphState = {
      ...defaults, namespaces: ['bookinfo', 'istio-system'], graphType: 'workload', duration: 300, refresh: 0, edgeLabels: 'rt99', layout: 'ranked', renderer: 'canvas',
      boxBy: ['namespace', 'app'], injectServiceNodes: false, idleNodes: true, security: true, animation: true, find: 'httpin > 1 or !traffic',
      hide: 'name = unknown', queryTime: 1764873600, compareTo: '1h', selected: 'abc',
    };
    assert.deepEqual(parseState(new URLSearchParams(stateQuery(s).toString())), s);
  });
  it('the default state is an empty query', () => assert.equal(stateQuery(defaults).toString(), ''));
  it('Kiali-style values read: duration in seconds or as a Prometheus duration, refresh in ms', () => {
    const s = parseState(new URLSearchParams('namespaces=a,,b&duration=10m&refresh=10000&graphType=app'));
    assert.deepEqual([s.namespaces, s.duration, s.refresh, s.graphType], [['a', 'b'], 600, 10000, 'app']);
  });
  it('what is wrong in the URL falls back to the default', () => {
    const s = parseState(new URLSearchParams('graphType=pods&duration=soon&refresh=-5&edges=loud&boxBy=pod,namespace&queryTime=yesterday'));
    assert.equal(s.graphType, defaults.graphType);
    assert.equal(s.duration, defaults.duration);
    assert.equal(s.refresh, defaults.refresh);
    assert.equal(s.edgeLabels, defaults.edgeLabels);
    assert.deepEqual(s.boxBy, ['namespace']);
    assert.equal(s.queryTime, undefined);
  });
  it('the API is asked with its own parameter names', () => {
    const q = apiQuery({ ...defaults, namespaces: ['bookinfo'], duration: 120, edgeLabels: 'rt50', queryTime: 1764873600, boxBy: ['app'], compareTo: '5m' });
    assert.equal(q.toString(), 'namespaces=bookinfo&graphType=versionedApp&duration=120s&injectServiceNodes=true&boxBy=app&responseTime=50&queryTime=1764873600&compareTo=5m');
  });
});

describe('routes', () => {
  const cases: [string, string, string?][] = [
    ['', 'home'],
    ['graph', 'graph'],
    ['graph/', 'graph'],
    ['console/graph/namespaces', 'graph'],
    ['namespaces/bookinfo/workloads/reviews-v2', 'details', 'reviews-v2'],
    ['namespaces/bookinfo/services/reviews/graph', 'graph', 'reviews'],
    ['namespaces/bookinfo/pods/x', 'not-found'],
    ['nope', 'not-found'],
  ];
  for (const [path, name, node] of cases) {
    it(`/${path} is the ${name} view`, () => {
      const r = route(path);
      assert.equal(r.name, name);
      assert.equal(r.node?.name, node);
    });
  }
});
