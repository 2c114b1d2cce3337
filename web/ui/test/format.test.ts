import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { errorDots, dotsFor, travelSeconds } from '../src/graph/animation';
import { edgeFacts } from '../src/graph/facts';
import { edgeHealth } from '../src/graph/health';
import { fitViewport, nearNeighbours, ranked } from '../src/graph/ranked';
import { bytesPerSecond, duration, millis, parseDuration, percent, rate } from '../src/format';

describe('formatting', () => {
  it('rates', () => assert.deepEqual([rate(0.5), rate(123.4), rate(2500), rate(undefined)], ['0.50 rps', '123 rps', '2.5k rps', '-']));
  it('percentages', () => assert.deepEqual([percent(12.345), percent(undefined)], ['12.3%', '-']));
  it('milliseconds', () => assert.deepEqual([millis(4.2), millis(42), millis(420), millis(12000)], ['4.20ms', '42.0ms', '420ms', '12.0s']));
  it('bytes per second', () => assert.deepEqual([bytesPerSecond(512), bytesPerSecond(2048), bytesPerSecond(5 * 1024 * 1024)], ['512 B/s', '2.0 KiB/s', '5.0 MiB/s']));
  it('durations both ways', () => {
    assert.deepEqual([60, 90, 3600, 86400, 5400].map(duration), ['1m', '1m30s', '1h', '1d', '1h30m']);
    assert.deepEqual(['600', '10m', '1h30m', '90s', '1d'].map(parseDuration), [600, 600, 5400, 90, 86400]);
    assert.deepEqual(['', 'soon', '10x', '5m later'].map(parseDuration), [undefined, undefined, undefined, undefined]);
  });
});

describe('edge colours', () => {
  const http = (err: string | undefined) => edgeFacts({ id: 'e', source: 'a', target: 'b', traffic: { protocol: 'http', rates: { http: '1.00', ...(err ? { httpPercentErr: err } : {}) } } });
  it('the API health wins', () => assert.equal(edgeHealth(http(undefined), 'Failure'), 'failure'));
  it('no errors is healthy', () => assert.equal(edgeHealth(http(undefined), undefined), 'healthy'));
  it('some errors degrade', () => assert.equal(edgeHealth(http('0.5'), undefined), 'degraded'));
  it('10 % errors fail', () => assert.equal(edgeHealth(http('10.0'), undefined), 'failure'));
  it('no traffic is grey', () => assert.equal(edgeHealth(edgeFacts({ id: 'e', source: 'a', target: 'b', traffic: { protocol: 'http', rates: {} } }), undefined), 'none'));
});

describe('animation', () => {
  it('more traffic, more dots, within 1..6', () => assert.deepEqual([0, 0.1, 1, 10, 1000, 1e9].map(dotsFor), [0, 1, 2, 3, 6, 6]));
  it('slower responses, slower dots', () => assert.ok(travelSeconds(2000) > travelSeconds(20)));
  it('any error shows at least one red dot', () => assert.deepEqual([errorDots(0, 4), errorDots(0.01, 4), errorDots(0.5, 4), errorDots(1, 4)], [0, 1, 2, 4]));
});

describe('the ranked layout', () => {
  it('puts callers left of callees and keeps cycles finite', () => {
    const p = ranked(['gw', 'a', 'b', 'c', 'lonely'], [['gw', 'a'], ['a', 'b'], ['b', 'c'], ['c', 'b']]);
    assert.ok(p.get('gw')!.x < p.get('a')!.x && p.get('a')!.x < p.get('b')!.x);
    assert.equal(p.size, 5);
    for (const v of p.values()) assert.ok(Number.isFinite(v.x) && Number.isFinite(v.y));
  });
  it('no two nodes share a place', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `n${i}`);
    const edges: [string, string][] = ids.slice(1).map((id, i) => [`n${Math.floor(i / 3)}`, id]);
    const seen = new Set([...ranked(ids, edges).values()].map((v) => `${v.x},${v.y}`));
    assert.equal(seen.size, 200);
  });
  it('a new node goes beside its neighbours', () => {
    const at = nearNeighbours([{ x: 100, y: 100 }, { x: 300, y: 100 }], 0)!;
    assert.ok(Math.abs(at.x - 200) <= 80 && Math.abs(at.y - 100) <= 80);
    assert.equal(nearNeighbours([], 1), undefined);
  });
});

describe('fitting the view', () => {
  it('every point lands inside the view, centred', () => {
    const pts = [{ x: -500, y: -100 }, { x: 1500, y: 900 }, { x: 200, y: 300 }];
    const { zoom, pan } = fitViewport(pts, 1000, 600, 30, 4);
    for (const p of pts) {
      const x = p.x * zoom + pan.x;
      const y = p.y * zoom + pan.y;
      assert.ok(x >= 30 && x <= 970 && y >= 30 && y <= 570, `${x},${y}`);
    }
  });
  it('a single node is not blown up past the maximum zoom', () => assert.equal(fitViewport([{ x: 0, y: 0 }], 1000, 600, 30, 4).zoom, 4));
});

describe('the ranked layout of a large rank', () => {
  it('spreads a rank over several columns, still right of its callers and left of its callees', () => {
    const many = Array.from({ length: 300 }, (_, i) => `w${i}`);
    const edges: [string, string][] = [...many.map((w): [string, string] => ['gw', w]), ...many.map((w): [string, string] => [w, 'db'])];
    const p = ranked(['gw', ...many, 'db'], edges, { maxRows: 20, rowGap: 60 });
    const ys = many.map((w) => p.get(w)!.y);
    assert.ok(Math.max(...ys) - Math.min(...ys) <= 19 * 60, 'at most 20 rows');
    const xs = many.map((w) => p.get(w)!.x);
    assert.ok(Math.min(...xs) > p.get('gw')!.x && Math.max(...xs) < p.get('db')!.x);
    assert.equal(new Set(many.map((w) => `${p.get(w)!.x},${p.get(w)!.y}`)).size, 300);
  });
});
