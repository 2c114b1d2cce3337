// Kiali's find/hide language: its documented examples, with the nodes and
// edges each must and must not match, and expressions that must not parse.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { complete, parse, ParseError, prepare } from '../src/find/expression';
import { edgeFacts, nodeFacts } from '../src/graph/facts';

const productpage = nodeFacts({
  id: 'n1', namespace: 'bookinfo', nodeType: 'app', app: 'productpage', version: 'v1', workload: 'productpage-v1',
  traffic: [{ protocol: 'http', rates: { httpIn: '1.00', httpOut: '2.00' } }], healthStatus: 'Healthy', labels: { region: 'east' },
});
const reviewsV2 = nodeFacts({
  id: 'n2', namespace: 'bookinfo', nodeType: 'app', app: 'reviews', version: 'v2', workload: 'reviews-v2',
  traffic: [{ protocol: 'http', rates: { httpIn: '0.40', httpOut: '0.40' } }], healthStatus: 'Failure', labels: { region: 'west' },
});
const detailsSvc = nodeFacts({ id: 'n3', namespace: 'bookinfo', nodeType: 'service', service: 'details', hasMissingSC: true });
const unknown = nodeFacts({ id: 'n4', namespace: 'unknown', nodeType: 'unknown', isRoot: true, traffic: [{ protocol: 'tcp', rates: { tcpOut: '1500.00' } }] });
const idleRatings = nodeFacts({ id: 'n5', namespace: 'bookinfo', nodeType: 'app', app: 'ratings', version: 'v1', isIdle: true, healthStatus: 'NA' });
const nodes = [productpage, reviewsV2, detailsSvc, unknown, idleRatings];

const slowEdge = edgeFacts({
  id: 'e1', source: 'n1', target: 'n2', responseTime: '1200.00', isMTLS: '100.0', sourcePrincipal: 'spiffe://cluster.local/ns/bookinfo/sa/productpage',
  traffic: { protocol: 'http', rates: { http: '0.80', httpPercentErr: '25.0', httpPercentReq: '40.0' } },
});
const quietEdge = edgeFacts({ id: 'e2', source: 'n1', target: 'n3', traffic: { protocol: 'http', rates: { http: '0.00' } } });
const tcpEdge = edgeFacts({ id: 'e3', source: 'n4', target: 'n1', traffic: { protocol: 'tcp', rates: { tcp: '2048.00' } } });
const edges = [slowEdge, quietEdge, tcpEdge];

function hits(expr: string): string[] {
  const e = parse(expr);
  assert.ok(e, `${expr} parsed to nothing`);
  return [...nodes, ...edges].filter((f) => e.matches(f)).map((f) => f.id);
}

describe('find and hide expressions', () => {
  const cases: [string, string[]][] = [
    ['label:region', ['n1', 'n2']],
    ['!label:region', ['n3', 'n4', 'n5']],
    ['label:region = east', ['n1']],
    ['label:region != east', ['n2', 'n3', 'n4', 'n5']],
    ['name = reviews', ['n2']],
    ['name not contains rev', ['n1', 'n3', 'n4', 'n5']],
    ['app startswith product', ['n1']],
    ['app endswith ews', ['n2']],
    ['app $= ews', ['n2']],
    ['app ^= prod', ['n1']],
    ['app *= view', ['n2']],
    ['app !*= view', ['n1', 'n3', 'n4', 'n5']],
    ['app != details and version=v1', ['n1', 'n5']],
    ['!sc', ['n3']],
    ['is sidecar', ['n1', 'n2', 'n4', 'n5']],
    ['outofmesh', ['n3']],
    ['httpin > 0.5', ['n1']],
    ['httpin >= 0.4', ['n1', 'n2']],
    ['httpin <= 0.4', ['n2']],
    ['tcpout >= 1000', ['n4']],
    ['!traffic', ['e2']],
    ['has traffic', ['e1', 'e3']],
    ['http > 0.5', ['e1']],
    ['rt > 500', ['e1']],
    ['%httptraffic >= 40.0', ['e1']],
    ['%httperr > 10', ['e1']],
    ['node = svc and svc startswith det or !traffic', ['n3', 'e2']],
    ['httpout = NaN', ['n3', 'n4', 'n5']],
    ['httpout != NaN', ['n1', 'n2']],
    ['healthy', ['n1']],
    ['not healthy', ['n2']],
    ['! healthy', ['n2']],
    ['trafficsource', ['n4']],
    ['root', ['n4']],
    ['idle', ['n5']],
    ['mtls', ['e1']],
    ['has mtls', ['e1']],
    ['protocol = tcp', ['e3']],
    ['tcp > 1000', ['e3']],
    ['sourceprincipal contains productpage', ['e1']],
    ['node = unknown', ['n4']],
    ['ns = unknown', ['n4']],
    ['wl = reviews-v2', ['n2']],
    ['namespace = bookinfo AND version = v2', ['n2']],
    ['app = reviews OR app = ratings', ['n2', 'n5']],
    ['app = reviews or http > 0.5', ['n2', 'e1']],
  ];
  for (const [expr, want] of cases) {
    it(`"${expr}" matches ${want.join(', ')}`, () => assert.deepEqual(hits(expr), want));
  }

  it('an empty expression finds nothing and is no error', () => assert.equal(parse('   '), undefined));

  it('rank compares against the rank computed for the graph', () => {
    const ranked = { ...productpage, rank: 1 };
    const low = { ...reviewsV2, rank: 3 };
    const e = parse('rank <= 2')!;
    assert.equal(e.matches(ranked), true);
    assert.equal(e.matches(low), false);
  });

  it('says which display options an expression needs, as Kiali turns them on', () => {
    assert.deepEqual([...parse('rt > 500')!.enables], ['responseTime']);
    assert.deepEqual([...parse('mtls')!.enables], ['security']);
    assert.deepEqual([...parse('idle')!.enables], ['idleNodes']);
    assert.deepEqual([...parse('throughput > 10')!.enables], ['throughput']);
  });

  const bad: [string, RegExp][] = [
    ['app reviews', /No valid operator/],
    ['frobnicate', /Invalid Node or Edge operand/],
    ['colour = red', /Invalid operand \[colour\]/],
    ['httpin > fast', /Invalid value \[fast\]/],
    ['httpin *= 3', /Invalid operator \[\*=\] for numeric condition/],
    ['app = reviews and http > 1', /Can not AND node and edge criteria/],
    ['name = reviews and app = x', /Can not use 'AND' with 'name' operand/],
    ['node = pod', /Invalid node type \[pod\]/],
    ['rank <= 0', /Invalid rank range \[0\]/],
    ['app = ', /Missing value/],
    ['= reviews', /Missing operand/],
    ['!label:region = east', /Leading negation/],
  ];
  for (const [expr, message] of bad) {
    it(`"${expr}" is refused with a message`, () => assert.throws(() => parse(expr), (e: unknown) => e instanceof ParseError && message.test(e.message)));
  }

  it('rewrites words into operators as Kiali does', () => {
    assert.equal(prepare('name  not contains rev'), 'name !*= rev');
    assert.equal(prepare('has mtls or is   idle'), 'mtls OR idle');
    assert.equal(prepare('app startswith a and app endswith b'), 'app ^= a AND app $= b');
  });

  it('completes operands on Tab', () => {
    assert.deepEqual(complete('httpi'), ['httpin']);
    assert.deepEqual(complete('app = x and %http'), ['%httperr', '%httperror', '%httptraffic']);
    assert.ok(complete('se').includes('serviceentry'));
    assert.deepEqual(complete('app = x '), []);
  });
});
