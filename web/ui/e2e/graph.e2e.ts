// The graph page in a real browser against a running demo: what it draws
// is what the API answers; selecting, finding, hiding, a fault turning an
// edge red, compare and replay. Screenshots of each state go to a temp dir.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';

import type { Browser, Page } from 'playwright-core';

import type { GraphAnswer } from '../src/api';
import { getJSON, launch, shots, startDemo, waitFor, watch } from './harness';
import type { Demo } from './harness';

let demo: Demo;
let browser: Browser;
const problems: string[] = [];

interface DrawnElement {
  id: string;
  classes: string[];
  app?: string;
  version?: string;
  nodeType?: string;
  source?: string;
  target?: string;
}

async function open(path: string, beforeLoad?: (page: Page) => void): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  beforeLoad?.(page);
  problems.push(...watch(page).map((p) => `${path}: ${p}`));
  const live = watch(page);
  page.on('close', () => problems.push(...live.map((p) => `${path}: ${p}`)));
  await page.goto(new URL(path, demo.url).href);
  await page.waitForSelector('[data-test=graph][data-state=drawn]', { timeout: 30000 });
  return page;
}

/**
 * Opens a graph page with the API's answer it drew: a graph asked again
 * later may already hold an edge whose first requests came in between.
 */
async function openAnswered(path: string): Promise<{ page: Page; answer: GraphAnswer }> {
  let answered: Promise<GraphAnswer> | undefined;
  const page = await open(path, (p) => {
    answered = p
      .waitForResponse((r) => r.url().includes('/api/namespaces/graph?') && r.status() === 200)
      .then((r) => r.json() as Promise<GraphAnswer>);
  });
  return { page, answer: await answered! };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

function counts(page: Page): Promise<{ nodes: number; edges: number; found: number }> {
  return page.evaluate(() => {
    const g = document.querySelector<HTMLElement>('[data-test=graph]')!;
    return { nodes: Number(g.dataset.nodes), edges: Number(g.dataset.edges), found: Number(g.dataset.found ?? 0) };
  });
}

/** The drawn elements, visible ones only, with their classes and data. */
function drawn(page: Page): Promise<DrawnElement[]> {
  return page.evaluate(() => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const cy = (document.querySelector('[data-test=graph]') as any).cy;
    return cy
      .elements()
      .filter((el: { hasClass(c: string): boolean }) => !el.hasClass('hidden'))
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      .map((el: any) => ({ id: el.id(), classes: el.classes(), app: el.data('app'), version: el.data('version'), nodeType: el.data('nodeType'), source: el.data('source'), target: el.data('target') }));
  });
}

async function clickElement(page: Page, id: string): Promise<void> {
  const at = await page.evaluate((id) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const cy = (document.querySelector('[data-test=graph]') as any).cy;
    const el = cy.getElementById(id);
    const p = el.isNode() ? el.renderedPosition() : el.renderedMidpoint();
    const box = (document.querySelector('[data-test=graph]') as HTMLElement).getBoundingClientRect();
    return { x: box.x + p.x, y: box.y + p.y };
  }, id);
  await page.mouse.click(at.x, at.y);
}

/** The edge from the reviews service into reviews v2, in a versioned app graph. */
function reviewsV2Edge(elements: DrawnElement[]): DrawnElement | undefined {
  const v2 = elements.find((e) => e.nodeType === 'app' && e.app === 'reviews' && e.version === 'v2');
  return v2 && elements.find((e) => e.target === v2.id);
}

function api(query: string): Promise<GraphAnswer> {
  return getJSON<GraphAnswer>(new URL(`api/namespaces/graph?${query}`, demo.url).href);
}

before(async () => {
  demo = await startDemo(['--scrape-interval', '2s', '--load.rate', '10']);
  browser = await launch();
  // The graph has every bookinfo edge once two scrapes saw traffic.
  await waitFor('bookinfo traffic in the store', 60000, async () => {
    const g = await api('namespaces=bookinfo&graphType=workload&duration=1m');
    return g.elements.edges.length >= 8;
  });
});

after(async () => {
  await browser?.close();
  await demo?.stop();
  console.log(`screenshots in ${shots}`);
});

describe('the graph page', () => {
  for (const graphType of ['app', 'versionedApp', 'workload', 'service']) {
    it(`draws as many nodes and edges as the API returns for the ${graphType} graph`, async () => {
      const { page, answer } = await openAnswered(`graph?namespaces=bookinfo&graphType=${graphType}&refresh=0`);
      const c = await counts(page);
      assert.equal(c.nodes, answer.elements.nodes.length, 'nodes');
      assert.equal(c.edges, answer.elements.edges.length, 'edges');
      assert.ok(c.nodes > 0);
      await shot(page, `graph-${graphType}`);
      await page.close();
    });
  }

  it('clicking productpage opens its side panel with a non-zero inbound rate', async () => {
    const page = await open('graph?namespaces=bookinfo&refresh=0');
    const pp = (await drawn(page)).find((e) => e.nodeType === 'app' && e.app === 'productpage');
    assert.ok(pp, 'productpage is drawn');
    await clickElement(page, pp.id);
    const panel = page.locator('[data-test=node-panel]');
    await panel.waitFor();
    const inbound = await panel.locator('[data-test=http-in]').textContent();
    assert.ok(Number.parseFloat(inbound ?? '') > 0, `inbound rate ${inbound}`);
    assert.match(page.url(), /selected=/);
    await shot(page, 'side-panel-productpage');
    await page.keyboard.press('Escape');
    await page.locator('[data-test=side-panel]').waitFor({ state: 'hidden' });
    await page.close();
  });

  it('the graph asks for response times and mTLS only when shown; an edge panel fetches its own', async () => {
    const { page, answer } = await openAnswered('graph?namespaces=bookinfo&refresh=0');
    assert.ok(answer.elements.edges.length > 0);
    assert.ok(answer.elements.edges.every((e) => e.data.responseTime === undefined && e.data.isMTLS === undefined), 'the default page asks for neither');
    const edge = reviewsV2Edge(await drawn(page));
    assert.ok(edge, 'the edge into reviews v2 is drawn');
    const full = (await api('namespaces=bookinfo&graphType=versionedApp&duration=60s&injectServiceNodes=true')).elements.edges.find((e) => e.data.id === edge.id);
    assert.ok(full?.data.responseTime, 'the API has a response time for the edge');
    await clickElement(page, edge.id);
    const panel = page.locator('[data-test=edge-panel][data-details=ready]');
    await panel.waitFor();
    const cells = await panel.locator('tr').allTextContents();
    assert.ok(cells.some((c) => /^response time[\d.]+m?s$/.test(c)), `response time row in ${cells.join(' | ')}`);
    assert.ok(cells.some((c) => (full.data.isMTLS ? /^mTLS[\d.]+%$/ : /^mTLSnone$/).test(c)), `mTLS row in ${cells.join(' | ')}`);
    await shot(page, 'side-panel-edge-details');
    // A refresh keeps the details shown while it asks for them again.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { detailsSeen: string[] }).detailsSeen = seen;
      new MutationObserver((records) => {
        for (const r of records) {
          for (const n of r.addedNodes) {
            if (n instanceof HTMLElement && n.dataset.test === 'edge-panel') seen.push(n.dataset.details ?? '');
          }
        }
      }).observe(document.querySelector('[data-test=side-panel]')!, { childList: true, subtree: true });
    });
    const asked = page.waitForResponse((r) => /\/api\/namespaces\/[^/]+\/[^/]+\/[^/]+\/graph\?/.test(r.url()));
    await page.locator('button[title="Refresh now"]').click();
    await asked;
    await waitFor('the refreshed panel', 5000, async () => (await page.evaluate(() => (window as unknown as { detailsSeen: string[] }).detailsSeen.length)) >= 2);
    const seen = await page.evaluate(() => (window as unknown as { detailsSeen: string[] }).detailsSeen);
    assert.deepEqual([...new Set(seen)], ['ready'], `the panel's states during a refresh: ${seen.join(', ')}`);
    const relabelled = page.waitForResponse((r) => r.url().includes('/api/namespaces/graph?') && /appenders=[^&]*responseTime/.test(r.url()) && r.status() === 200);
    await page.selectOption('select[name=edges]', 'rt95');
    const withTimes = (await (await relabelled).json()) as GraphAnswer;
    assert.ok(withTimes.elements.edges.some((e) => e.data.responseTime !== undefined), 'response times once edge labels show them');
    await page.close();
  });

  it('a find expression highlights the nodes it names, and only those', async () => {
    const page = await open('graph?namespaces=bookinfo&refresh=0');
    await page.keyboard.press('/');
    await page.keyboard.type('app = reviews');
    await page.keyboard.press('Enter');
    await waitFor('found nodes', 5000, async () => (await counts(page)).found > 0);
    const els = await drawn(page);
    const found = els.filter((e) => e.classes.includes('find'));
    const reviews = els.filter((e) => e.app === 'reviews' && e.nodeType === 'app');
    assert.deepEqual(found.map((e) => e.id).sort(), reviews.map((e) => e.id).sort());
    assert.match(page.url(), /find=app\+%3D\+reviews|find=app%20%3D%20reviews/);
    await shot(page, 'find-reviews');
    await page.close();
  });

  it('a hide expression removes the nodes it names and their edges', async () => {
    const page = await open('graph?namespaces=bookinfo&refresh=0');
    const before = await drawn(page);
    await page.fill('[data-test=hide-input]', 'app = reviews');
    await page.press('[data-test=hide-input]', 'Enter');
    await waitFor('hidden nodes', 5000, async () => (await counts(page)).nodes < before.filter((e) => !e.source).length);
    const els = await drawn(page);
    const ids = new Set(els.map((e) => e.id));
    assert.equal(els.filter((e) => e.app === 'reviews' && e.nodeType === 'app').length, 0, 'no reviews app node is drawn');
    for (const e of els.filter((x) => x.source)) assert.ok(ids.has(e.source!) && ids.has(e.target!), `edge ${e.id} has both ends drawn`);
    const c = await counts(page);
    assert.equal(c.nodes, els.filter((e) => !e.source).length);
    assert.equal(c.edges, els.filter((e) => e.source).length);
    await shot(page, 'hide-reviews');
    await page.close();
  });

  it('an expression that does not parse says why under its box', async () => {
    const page = await open('graph?namespaces=bookinfo&refresh=0');
    await page.fill('[data-test=find-input]', 'app reviews');
    await page.press('[data-test=find-input]', 'Enter');
    await page.locator('[data-test=find-error]').filter({ hasText: 'No valid operator' }).waitFor();
    await page.close();
  });

  it('the fast canvas draws the same graph, selects by click and finds', async () => {
    const { page, answer } = await openAnswered('graph?namespaces=bookinfo&refresh=0&renderer=canvas');
    const c = await counts(page);
    assert.equal(c.nodes, answer.elements.nodes.length, 'nodes');
    assert.equal(c.edges, answer.elements.edges.length, 'edges');
    assert.equal(await page.locator('[data-test=canvas-view]').count(), 1);
    const pp = answer.elements.nodes.find((n) => n.data.nodeType === 'app' && n.data.app === 'productpage')!.data.id;
    const at = await page.evaluate((id) => {
      const g = document.querySelector('[data-test=graph]') as HTMLElement & { view: { positions(): Map<string, { x: number; y: number }>; zoom(): number; pan(): { x: number; y: number } } };
      const p = g.view.positions().get(id)!;
      const box = g.getBoundingClientRect();
      return { x: box.x + p.x * g.view.zoom() + g.view.pan().x, y: box.y + p.y * g.view.zoom() + g.view.pan().y };
    }, pp);
    await page.mouse.click(at.x, at.y);
    const inbound = await page.locator('[data-test=node-panel] [data-test=http-in]').textContent();
    assert.ok(Number.parseFloat(inbound ?? '') > 0, `inbound rate ${inbound}`);
    await page.fill('[data-test=find-input]', 'app = reviews');
    await page.press('[data-test=find-input]', 'Enter');
    const reviews = answer.elements.nodes.filter((n) => n.data.nodeType === 'app' && n.data.app === 'reviews').length;
    await waitFor('found nodes on the canvas', 5000, async () => (await counts(page)).found === reviews);
    await page.fill('[data-test=hide-input]', 'app = reviews');
    await page.press('[data-test=hide-input]', 'Enter');
    await waitFor('hidden nodes on the canvas', 5000, async () => (await counts(page)).nodes < answer.elements.nodes.length);
    await shot(page, 'canvas-bookinfo');
    await page.close();
  });

  it('the fast canvas labels edges and titles boxes', async () => {
    const page = await open('graph?namespaces=bookinfo&refresh=0&renderer=canvas&edges=trafficRate&boxBy=namespace');
    const labels = () => page.evaluate(() => (document.querySelector('[data-test=graph]') as HTMLElement & { view: { labels(): string[] } }).view.labels());
    await waitFor('edge labels on the canvas', 5000, async () => (await labels()).some((l) => / rps/.test(l)));
    assert.ok((await labels()).includes('bookinfo'), `labels ${await labels()}`);
    await page.selectOption('select[name=edges]', 'none');
    await waitFor('edge labels gone with the choice', 5000, async () => !(await labels()).some((l) => / rps/.test(l)));
    await shot(page, 'canvas-labels');
    await page.close();
  });

  it('an unknown page serves the app, which says so', async () => {
    const page = await browser.newPage();
    const seen = watch(page);
    await page.goto(new URL('no/such/page', demo.url).href);
    await page.locator('[data-test=not-found]').waitFor();
    await page.close();
    problems.push(...seen);
  });

  it('replay offers only the past the young store holds', async () => {
    const config = (await (await fetch(new URL('api/config', demo.url))).json()) as { prometheus: { dataSince?: number } };
    const since = config.prometheus.dataSince;
    assert.ok(since && since <= Date.now() / 1000 && since > Date.now() / 1000 - 3600, `dataSince ${since}`);
    const page = await open('graph?namespaces=bookinfo&refresh=0&duration=60');
    await page.locator('[data-test=replay-toggle]').click();
    const windows = page.locator('select[name=replay-window] option');
    await waitFor('the windows to be bounded by the store', 10000, async () => !(await windows.allTextContents()).includes('Last 1d'));
    const offered = await windows.evaluateAll((os) => os.map((o) => Number((o as HTMLOptionElement).value)));
    assert.ok(offered.includes(60), `offered ${offered}`);
    assert.ok(offered.every((w) => w <= Date.now() / 1000 - since + Math.max(60, w / 10)), `offered ${offered}, data since ${since}`);
    const min = Number(await page.locator('[data-test=replay-slider]').getAttribute('min'));
    assert.ok(min >= since, `slider starts at ${min}, before the data (${since})`);
    await waitFor('the replay time to move into the data', 5000, async () => Number(new URL(page.url()).searchParams.get('queryTime')) >= since);
    await shot(page, 'replay-bounded');
    await page.close();
  });

  describe('a fault on reviews-v2', () => {
    let faultAt = 0;
    before(async () => {
      // Clean traffic for a while first, so that replay has a clean past.
      await new Promise((r) => setTimeout(r, 4000));
      faultAt = Math.floor(Date.now() / 1000);
      const r = await fetch(new URL('api/simulate/faults', demo.url), { method: 'PUT', body: JSON.stringify({ namespace: 'bookinfo', workload: 'reviews-v2', errorRate: 0.5 }) });
      assert.equal(r.status, 200, await r.text());
    });

    it('turns its edge red within two refreshes', async () => {
      const page = await open('graph?namespaces=bookinfo&refresh=10000&duration=60');
      const started = Date.now();
      await waitFor('the edge into reviews-v2 to fail', 25000, async () => reviewsV2Edge(await drawn(page))?.classes.includes('failure'));
      const took = Date.now() - started;
      assert.ok(took <= 25000, `took ${took} ms`);
      await shot(page, 'fault-reviews-v2-red');
      await page.close();
    });

    it('compare shows the faulted edge as changed', async () => {
      const page = await open(`graph?namespaces=bookinfo&refresh=0&duration=60&compareTo=${faultAt - 2}`);
      const edge = reviewsV2Edge(await drawn(page));
      assert.ok(edge?.classes.includes('changed'), `classes ${edge?.classes}`);
      await clickElement(page, edge!.id);
      await page.locator('[data-test=edge-panel] [data-test=compare]').filter({ hasText: 'changed' }).waitFor();
      await shot(page, 'compare-changed');
      await page.close();
    });

    it('replay to a time before the fault shows the edge clean', async () => {
      const page = await open(`graph?namespaces=bookinfo&refresh=0&duration=60&queryTime=${faultAt - 1}`);
      const edge = reviewsV2Edge(await drawn(page));
      assert.ok(edge, 'the edge into reviews-v2 is drawn in the past');
      assert.ok(edge.classes.includes('healthy'), `classes ${edge.classes}`);
      await page.locator('[data-test=replay]').waitFor();
      // The arrows step the replay by a frame.
      await page.locator('[data-test=graph]').focus();
      await page.keyboard.press('ArrowLeft');
      await waitFor('the URL to step back a frame', 5000, async () => page.url().includes(`queryTime=${faultAt - 11}`));
      await shot(page, 'replay-before-fault');
      await page.close();
    });

    after(async () => {
      await fetch(new URL('api/simulate/faults', demo.url), { method: 'DELETE' });
    });
  });

  it('no page logged an error or had a request fail', () => {
    assert.deepEqual(problems, []);
  });
});
