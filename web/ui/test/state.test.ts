import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { apiQuery, appenders, defaults, detailAppenders, parseState, stateQuery } from '../src/graph/state';
import type { GraphState } from '../src/graph/state';
import { frameSeconds, heldWindows, replayStart } from '../src/graph/replay';
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
    assert.equal(q.toString(), 'namespaces=bookinfo&graphType=versionedApp&duration=120s&injectServiceNodes=true&appenders=deadNode%2CserviceEntry%2CsidecarsCheck%2CresponseTime&boxBy=app&responseTime=50&queryTime=1764873600&compareTo=5m');
  });
  it('response times, throughput and mTLS are asked for only when the page shows them', () => {
    const asked = (patch: Partial<GraphState>) => appenders({ ...defaults, ...patch }).filter((a) => detailAppenders.includes(a));
    assert.deepEqual(asked({}), []);
    assert.deepEqual(asked({ edgeLabels: 'trafficRate' }), []);
    assert.deepEqual(asked({ edgeLabels: 'rtAvg' }), ['responseTime']);
    assert.deepEqual(asked({ edgeLabels: 'throughput' }), ['throughput']);
    assert.deepEqual(asked({ security: true }), ['securityPolicy']);
    assert.deepEqual(asked({ animation: true }), ['responseTime']);
    assert.deepEqual(asked({ compareTo: '1h' }), ['responseTime']);
    assert.deepEqual(appenders(defaults), ['deadNode', 'serviceEntry', 'sidecarsCheck']);
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

describe('replay windows', () => {
  const now = 1_800_000_000;
  it('a store that cannot tell offers every window', () => assert.deepEqual(heldWindows(now, undefined), [60, 300, 600, 1800, 3600, 10800, 21600, 86400]));
  it('a store 2 minutes old offers the last minute only', () => assert.deepEqual(heldWindows(now, now - 120), [60]));
  it('a store 12 minutes old offers up to 10 minutes', () => assert.deepEqual(heldWindows(now, now - 720), [60, 300, 600]));
  it('a window starting a little before the data counts', () => assert.deepEqual(heldWindows(now, now - 3500), [60, 300, 600, 1800, 3600]));
  it('a store days old offers every window', () => assert.deepEqual(heldWindows(now, now - 3 * 86400).length, 8));
  it('a store younger than a minute still offers a minute', () => assert.deepEqual(heldWindows(now, now - 10), [60]));
  it('the slider starts at the data when the window reaches further', () => {
    assert.equal(replayStart(now, 600, now - 300), now - 300);
    assert.equal(replayStart(now, 600, now - 900), now - 600);
    assert.equal(replayStart(now, 600, undefined), now - 600);
  });
  it('frames: 10 s up to 30 minutes, about 180 a window above', () => assert.deepEqual([60, 1800, 3600, 86400].map(frameSeconds), [10, 10, 20, 480]));
});
