// What the end-to-end tests run against: a real `meshlens demo` on random
// loopback ports, and Debian's Chromium driven by playwright-core (no
// browser download).

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** Screenshots go here, never into the repository. */
export const shots = process.env.MESHLENS_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'meshlens-e2e-'));

export interface Demo {
  url: string;
  process: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts the demo with args; resolves when its banner names the console. */
export async function startDemo(args: string[] = []): Promise<Demo> {
  const bin = resolve(process.env.MESHLENS_BIN ?? join(import.meta.dirname, '../../../bin/meshlens'));
  const p = spawn(bin, ['demo', '--web.listen-address', '127.0.0.1:0', '--store.listen-address', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the demo did not start in 30s:\n${out}`)), 30000);
    const check = () => {
      const m = /console\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    };
    p.stdout!.on('data', check);
    p.on('exit', (code) => fail(new Error(`the demo exited with ${code}:\n${out}`)));
  });
  return {
    url,
    process: p,
    output: () => out,
    stop: () =>
      new Promise<void>((ok) => {
        if (p.exitCode !== null) return ok();
        p.on('exit', () => ok());
        p.kill('SIGTERM');
      }),
  };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
}

/** What went wrong on a page: console errors, page errors, failed requests. */
export function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A refresh aborts the request it replaces: that is no failure.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`request answered ${r.status()}: ${r.url()}`);
  });
  return problems;
}

export async function waitFor<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function getJSON<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}
