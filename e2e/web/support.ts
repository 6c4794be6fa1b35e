// Support for the browser test of the web UI: an up-to-date build of services/web, Debian's
// Chromium through playwright-core (no browser download), screenshots, and the correlation
// that measures how far apart the two ears of the A/B player really are.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const WEB = path.join(REPO, 'services/web');
export const ARTIFACTS = path.join(REPO, 'test-artifacts/web');

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(p).reduce((m, f) => Math.max(m, newestMtime(path.join(p, f))), st.mtimeMs);
}

/** Builds the UI when dist/ is missing or older than its sources (the API serves dist/). */
export async function ensureWebBuild(): Promise<void> {
  const index = path.join(WEB, 'dist/index.html');
  const sources = Math.max(newestMtime(path.join(WEB, 'src')), ...['index.html', 'vite.config.ts', 'package.json'].map((f) => statSync(path.join(WEB, f)).mtimeMs));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('npm', ['run', 'build', '-w', '@sync-analyzer/web'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`web build failed (exit ${code}):\n${out.slice(-3000)}`))));
  });
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Form controls on the page without an accessible name (label, aria-label or aria-labelledby). */
export function unlabelledControls(page: Page): Promise<string[]> {
  // A string: the root tsconfig has no DOM types, and this runs in the page.
  return page.evaluate(`[...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden')
    .filter((el) => !el.labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML.slice(0, 120))`);
}

/**
 * The lag (seconds) of `right` behind `left` that best lines them up: normalised
 * cross-correlation, coarse on 4× decimated signals, then refined at the full rate.
 */
export function lagSeconds(left: ArrayLike<number>, right: ArrayLike<number>, sampleRate: number, maxLagSeconds: number): { lag: number; score: number } {
  const n = Math.min(left.length, right.length);
  const dec = 4;
  const decimate = (x: ArrayLike<number>) => {
    const out = new Float64Array(Math.floor(n / dec));
    for (let i = 0; i < out.length; i++) {
      let s = 0;
      for (let j = 0; j < dec; j++) s += x[i * dec + j]!;
      out[i] = s / dec;
    }
    return out;
  };
  const corr = (a: ArrayLike<number>, b: ArrayLike<number>, len: number, lag: number) => {
    // b delayed by lag: compare a[i] with b[i + lag].
    let s = 0;
    let ea = 0;
    let eb = 0;
    const i0 = Math.max(0, -lag);
    const i1 = Math.min(len, len - lag);
    for (let i = i0; i < i1; i++) {
      s += a[i]! * b[i + lag]!;
      ea += a[i]! * a[i]!;
      eb += b[i + lag]! * b[i + lag]!;
    }
    return ea > 0 && eb > 0 ? s / Math.sqrt(ea * eb) : 0;
  };
  const dl = decimate(left);
  const dr = decimate(right);
  const maxD = Math.floor((maxLagSeconds * sampleRate) / dec);
  let best = 0;
  let bestScore = -Infinity;
  for (let lag = -maxD; lag <= maxD; lag++) {
    const c = corr(dl, dr, dl.length, lag);
    if (c > bestScore) [best, bestScore] = [lag, c];
  }
  let fine = best * dec;
  let fineScore = -Infinity;
  for (let lag = best * dec - 2 * dec; lag <= best * dec + 2 * dec; lag++) {
    const c = corr(left, right, n, lag);
    if (c > fineScore) [fine, fineScore] = [lag, c];
  }
  return { lag: fine / sampleRate, score: fineScore };
}
