// End to end: the operators' web UI in a real headless Chromium (Debian's, through
// playwright-core) against the real API and a real worker, on generated media: log in with the
// API key, browse and pick files, submit, watch progress reach done in the live jobs table,
// read the verdict, open the plot, listen in the A/B player (positions within 20 ms after a
// seek and after a toggle, and the two ears really aligned, measured by correlation), repair
// and see the verification, upload a batch sheet and export it, search the history, open the
// System page. A screenshot of every page goes to test-artifacts/web/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ff, makeDub, makeProgramme, startStack, until, type Stack } from './harness.ts';
import { ensureWebBuild, lagSeconds, launchBrowser, screenshot, unlabelledControls } from './web/support.ts';

const KEY = 'ui-key';
const OFFSET = 0.48; // the dub under test is late by 480 ms = 12 frames @ 25
const FRAME = 0.04;
const TOLERANCE = 0.02; // the player's ears must agree within 20 ms

let s: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];
let analysisId = '';
let result: any;

const ep = (f: string) => `shows/ep1/${f}`;

before(async () => {
  await ensureWebBuild();
  s = await startStack({ env: { API_KEYS: KEY } });
  const dir = path.join(s.mediaRoot, 'shows/ep1');
  await mkdir(dir, { recursive: true });
  // Master: line-up tone (1 kHz at -18 dBFS, 3 s), silence, a 2-pop, silence, then 22 s of programme.
  const prog = path.join(s.dir, 'programme.wav');
  const head = path.join(s.dir, 'head.wav');
  await makeProgramme(prog, 61, 22);
  await ff([
    '-filter_complex',
    'sine=f=1000:r=48000:d=3[t];anullsrc=r=48000:cl=mono:d=1.5[s1];sine=f=1000:r=48000:d=0.0417,volume=4[p];anullsrc=r=48000:cl=mono:d=1.5[s2];[t][s1][p][s2]concat=n=4:v=0:a=1,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[out]',
    '-map',
    '[out]',
    '-c:a',
    'pcm_s16le',
    head,
  ]);
  // The master carries a small 25 fps video with a 10:00:00:00 start timecode: frames and
  // timecode are then counted at 25.
  const masterWav = path.join(s.dir, 'master.wav');
  await ff(['-i', head, '-i', prog, '-filter_complex', '[0:a][1:a]concat=n=2:v=0:a=1[out]', '-map', '[out]', '-c:a', 'pcm_s16le', masterWav]);
  const master = path.join(dir, 'master.mov');
  await ff(['-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25:duration=28', '-i', masterWav, '-map', '0:v', '-map', '1:a', '-c:v', 'mpeg4', '-q:v', '12', '-c:a', 'pcm_s16le', '-timecode', '10:00:00:00', master]);
  await makeDub(masterWav, path.join(dir, 'dub-fr.wav'), OFFSET);
  await makeDub(masterWav, path.join(dir, 'dub-script.wav'), -0.2);
  await makeDub(masterWav, path.join(dir, 'dub-b1.wav'), 0.12);
  await makeDub(masterWav, path.join(dir, 'dub-b2.wav'), 0);
  await makeDub(masterWav, path.join(dir, 'dub-cancel.wav'), 0.3);
  await writeFile(path.join(s.mediaRoot, 'shows/notes.txt'), 'not media\n');

  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Failed resource loads (the deliberate wrong key, 202 polling) are the browser's own logs.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(`console: ${m.text()}`);
  });
});

after(async () => {
  await browser?.close();
  await s?.close();
  assert.deepEqual(pageErrors, [], 'no script errors in the page');
});

/** Later steps build on earlier ones: fail at once, not after every timeout, when one did not happen. */
function needs(what: unknown, step: string) {
  if (!what) throw new Error(`an earlier step failed (${step}); not attempted`);
}

async function noUnlabelled(name: string) {
  assert.deepEqual(await unlabelledControls(page), [], `every form control on ${name} has a label`);
}

test('log in with the API key (a wrong key shows the API message)', async () => {
  await page.goto(`${s.api.url}/`);
  await page.locator('#login-form').waitFor();
  await noUnlabelled('login');
  await screenshot(page, '01-login');
  await page.fill('#api-key', 'wrong-key');
  await page.click('#login-form button[type=submit]');
  await page.locator('#login-error').waitFor();
  assert.match(await page.locator('#login-error').innerText(), /the API key is not valid/);
  await page.fill('#api-key', KEY);
  await page.click('#login-form button[type=submit]');
  await page.locator('nav[aria-label=main]').waitFor();
  assert.equal(await page.evaluate(`sessionStorage.getItem('sync-analyzer.api-key')`), KEY, 'the key is kept in session storage');
  // The app routes to /new once logged in; the nav can show a moment before the URL changes.
  await page.waitForURL((u) => u.pathname === '/new', { timeout: 10_000 });
  assert.equal(new URL(page.url()).pathname, '/new');
});

test('new analysis: browse, probe, pick a master and a dub, submit', async () => {
  await page.locator('#file-browser').waitFor();
  await page.getByRole('button', { name: 'shows/' }).click();
  await page.getByText('notes.txt').waitFor();
  assert.equal(await page.locator('tr[data-path="shows/notes.txt"] button').count(), 0, 'no actions on a non-media file');
  await page.getByRole('button', { name: 'ep1/' }).click();
  await page.locator(`tr[data-path="${ep('master.mov')}"]`).waitFor();
  // Media info from the probe.
  await page.getByRole('button', { name: 'master.mov: show media info' }).click();
  const probe = page.locator('#probe-panel');
  await probe.getByText(/a0 · pcm_s16le · 2 ch .*48 kHz/).waitFor();
  const facts = await probe.innerText();
  assert.match(facts, /Duration\s+0:28\.0\d/);
  assert.match(facts, /Frame rate\s+25/);
  assert.match(facts, /Start timecode\s+10:00:00:00/);
  await page.getByRole('button', { name: 'use master.mov as master' }).click();
  await page.getByRole('button', { name: 'add dub-fr.wav as dub' }).click();
  await page.locator(`.picked[data-role=dub][data-path="${ep('dub-fr.wav')}"] select`).waitFor();
  // Stream and channel choices come from the probe.
  const choices = await page.locator('.picked[data-role=master] select option').allInnerTexts();
  assert.ok(choices.some((c) => /channel 2 only/.test(c)), choices.join(' | '));
  await page.selectOption('#frame-rate', '25');
  await noUnlabelled('new analysis');
  await screenshot(page, '02-new-analysis');
  await page.click('#submit-analysis');
  const link = page.locator('#submitted a[href^="/analyses/"]');
  await link.waitFor();
  analysisId = (await link.getAttribute('href'))!.split('/').pop()!;
  assert.match(analysisId, /\w+/);
});

test('jobs: the live table shows progress to done, for jobs from scripts too, and survives a reload', async () => {
  needs(analysisId, 'submit');
  await page.getByRole('link', { name: 'Watch them in Jobs' }).click();
  await page.locator('#jobs-table').waitFor();
  await page.locator('.live-on').waitFor();
  // A job submitted by a script (not this page) appears without a reload.
  const scripted = await s.request('POST', '/api/v1/analyses', { master: ep('master.mov'), dub: ep('dub-script.wav'), options: { frameRate: '25' } });
  assert.equal(scripted.status, 202, scripted.text);
  const sid = scripted.body.analysis.id as string;
  // And one to cancel while it waits behind the others (the worker runs one job at a time).
  const third = await s.request('POST', '/api/v1/analyses', { master: ep('master.mov'), dub: ep('dub-cancel.wav') });
  const cid = third.body.analysis.id as string;
  const cancelRow = page.locator(`#jobs-table tr[data-id="${cid}"]`);
  await cancelRow.getByRole('button', { name: 'cancel dub-cancel.wav' }).click();
  await page.locator(`#jobs-table tr[data-id="${cid}"][data-status=cancelled]`).waitFor();
  const seen = { statuses: new Set<string>(), progress: new Set<number>() };
  await until(
    async () => {
      const row = (await page.evaluate(`(() => {
        const tr = document.querySelector('#jobs-table tr[data-id="${sid}"]');
        const bar = tr?.querySelector('[role=progressbar]');
        return tr ? { status: tr.getAttribute('data-status'), progress: bar ? Number(bar.getAttribute('aria-valuenow')) : null } : null;
      })()`)) as { status: string; progress: number | null } | null;
      if (row) {
        seen.statuses.add(row.status!);
        if (row.progress !== null) seen.progress.add(row.progress);
      }
      return row?.status === 'completed';
    },
    90_000,
    'the scripted job done in the table',
  );
  assert.ok(seen.statuses.has('running'), `saw ${[...seen.statuses]}`);
  assert.ok([...seen.progress].some((p) => p > 0 && p < 100), `progress values seen: ${[...seen.progress]}`);
  await page.locator(`#jobs-table tr[data-id="${analysisId}"][data-status=completed]`).waitFor({ timeout: 90_000 });
  assert.match(await page.locator(`#jobs-table tr[data-id="${analysisId}"] [data-verdict]`).innerText(), /Offset/);
  // The cancelled one runs again on Retry.
  await cancelRow.getByRole('button', { name: 'retry dub-cancel.wav' }).click();
  await page.locator(`#jobs-table tr[data-id="${cid}"][data-status=completed]`).waitFor({ timeout: 90_000 });
  await page.reload();
  await page.locator(`#jobs-table tr[data-id="${sid}"][data-status=completed]`).waitFor();
  assert.equal(await page.locator('#jobs-table tbody tr').count(), 3, 'every job, after a reload');
  await noUnlabelled('jobs');
  await screenshot(page, '03-jobs');
});

test('result: verdict and offset in operator words, confidence, the plot and the energy overview', async () => {
  needs(analysisId, 'submit');
  await page.locator(`#jobs-table tr[data-id="${analysisId}"] a.pair-link`).click();
  await page.locator('#offset-sentence').waitFor();
  result = (await s.request('GET', `/api/v1/analyses/${analysisId}`)).body.analysis.result;
  assert.equal(result.verdict, 'offset');
  assert.ok(Math.abs(result.offset_seconds - OFFSET) < FRAME / 2, String(result.offset_seconds));
  assert.equal(await page.locator('.verdict-card [data-verdict]').innerText(), 'Offset');
  assert.match(await page.locator('#offset-sentence').innerText(), /^Dub is late by 4(79|80|81) ms \(12 frames @ 25\)$/);
  assert.match(await page.locator('.timecode').innerText(), /\+00:00:00:12 @ 25/);
  assert.match(await page.locator('.verdict-side').innerText(), new RegExp(`Confidence ${Math.round(result.confidence * 100)}%`));
  assert.equal(await page.locator('#low-confidence').count(), result.confidence < 0.8 ? 1 : 0);
  // The plot: one point per measurement, the fitted line, the head findings.
  const plot = page.locator('#offset-plot svg');
  assert.equal(await plot.locator('.plot-points circle').count(), result.offset_track.length);
  assert.equal(await plot.locator('.plot-fit line').count(), result.segments.length);
  const heads = result.master.head.findings.filter((f: any) => f.kind !== 'silence').map((f: any) => f.kind);
  assert.ok(heads.includes('bars_tone'), `master head findings: ${JSON.stringify(result.master.head.findings)}`);
  assert.equal(await plot.locator('.plot-head').count(), heads.length + result.dub.head.findings.filter((f: any) => f.kind !== 'silence').length);
  // The energy overview, before and after correction (waits while a worker prepares it).
  await page.locator('#overview-after path.lane-dub').waitFor({ timeout: 60_000 });
  assert.ok(((await page.locator('#overview-before path.lane-master').getAttribute('d')) ?? '').length > 100);
  await page.locator('#player[data-phase=ready]').waitFor({ timeout: 60_000 });
  await noUnlabelled('result');
  await screenshot(page, '04-result');
});

/** Where the dub should be for master time t when corrected (from the result's segments, independently of the UI). */
function expectedDub(t: number): number {
  const segs = result.segments as { master_start: number; master_end: number; dub_start: number; dub_end: number }[];
  const seg = segs.find((g) => t >= g.master_start && t <= g.master_end) ?? (t < segs[0]!.master_start ? segs[0]! : segs[segs.length - 1]!);
  return seg.dub_start + ((t - seg.master_start) * (seg.dub_end - seg.dub_start)) / (seg.master_end - seg.master_start);
}

interface PlayerState {
  playing: boolean;
  mode: 'corrected' | 'uncorrected';
  masterTime: number;
  dubTime: number | null;
  expectedDubTime: number | null;
}

/** The player's debugging hook (services/web/src/player/AbPlayer.tsx). */
async function playerState(): Promise<PlayerState> {
  return (await page.evaluate('window.__player.state()')) as PlayerState;
}

/** The two ears over the last ~2 s: how far the right (dub) lags the left (master). */
async function earLag() {
  const c = (await page.evaluate('window.__player.capture()')) as { left: number[]; right: number[]; sampleRate: number };
  return lagSeconds(c.left, c.right, c.sampleRate, 0.7);
}

test('A/B player: both proxies play; positions within 20 ms after a seek and after a toggle; the ears really align', async (t) => {
  needs(result, 'result page');
  await page.click('#player-play');
  await page.fill('#player-goto', '12');
  const t0 = Date.now();
  await page.press('#player-goto', 'Enter');
  await page.waitForTimeout(300);
  let st = await playerState();
  const elapsed = (Date.now() - t0) / 1000;
  assert.equal(st.playing, true);
  assert.equal(st.mode, 'corrected');
  assert.ok(st.masterTime >= 12 && st.masterTime <= 12 + elapsed + TOLERANCE, `master at ${st.masterTime} after seeking to 12 (${elapsed} s ago)`);
  assert.ok(st.dubTime !== null && Math.abs(st.dubTime - expectedDub(st.masterTime)) < TOLERANCE, `corrected: dub ${st.dubTime} vs expected ${expectedDub(st.masterTime)} at master ${st.masterTime}`);
  assert.ok(Math.abs(st.dubTime! - st.masterTime - OFFSET) < FRAME, 'corrected: the dub runs 480 ms ahead of the master clock');
  // Let the ears' capture window (2 s) fill with post-seek audio, then measure the real alignment.
  await page.waitForTimeout(2200);
  let lag = await earLag();
  assert.ok(lag.score > 0.3, `the ears correlate (score ${lag.score})`);
  t.diagnostic(`after seek, corrected: dub − expected ${((st.dubTime! - expectedDub(st.masterTime)) * 1000).toFixed(2)} ms; ears ${(lag.lag * 1000).toFixed(2)} ms apart (score ${lag.score.toFixed(2)})`);
  assert.ok(Math.abs(lag.lag) < TOLERANCE, `corrected: the dub ear lags the master ear by ${(lag.lag * 1000).toFixed(1)} ms`);
  await screenshot(page, '05-player-corrected');

  // Toggle: the master keeps going; the dub switches to the same clock time.
  const before = await playerState();
  await page.click('#player-toggle');
  await page.waitForTimeout(300);
  st = await playerState();
  assert.equal(st.mode, 'uncorrected');
  assert.ok(st.masterTime > before.masterTime, 'the master keeps playing through the toggle');
  assert.ok(st.dubTime !== null && Math.abs(st.dubTime - st.masterTime) < TOLERANCE, `uncorrected: dub ${st.dubTime} vs master ${st.masterTime}`);
  await page.waitForTimeout(2200);
  lag = await earLag();
  t.diagnostic(`after toggle, uncorrected: dub − master ${((st.dubTime! - st.masterTime) * 1000).toFixed(2)} ms; the dub ear lags by ${(lag.lag * 1000).toFixed(2)} ms (score ${lag.score.toFixed(2)})`);
  assert.ok(Math.abs(lag.lag - OFFSET) < TOLERANCE, `uncorrected: the dub ear lags by ${(lag.lag * 1000).toFixed(1)} ms (delivered offset ${OFFSET * 1000} ms)`);

  // Seek while uncorrected, then toggle back.
  await page.fill('#player-goto', '6');
  await page.press('#player-goto', 'Enter');
  await page.waitForTimeout(300);
  st = await playerState();
  assert.ok(st.masterTime >= 6 && st.masterTime < 7, String(st.masterTime));
  assert.ok(Math.abs(st.dubTime! - st.masterTime) < TOLERANCE);
  await page.click('#player-toggle');
  await page.waitForTimeout(300);
  st = await playerState();
  assert.equal(st.mode, 'corrected');
  assert.ok(Math.abs(st.dubTime! - expectedDub(st.masterTime)) < TOLERANCE, `corrected again: dub ${st.dubTime} vs expected ${expectedDub(st.masterTime)}`);
  await page.waitForTimeout(2200);
  lag = await earLag();
  t.diagnostic(`after toggling back, corrected: ears ${(lag.lag * 1000).toFixed(2)} ms apart (score ${lag.score.toFixed(2)})`);
  assert.ok(Math.abs(lag.lag) < TOLERANCE, `corrected again: ${(lag.lag * 1000).toFixed(1)} ms`);
  // The page shows the same positions.
  const shown = Number(await page.locator('#player').getAttribute('data-master-time'));
  assert.ok(Math.abs(shown - (await playerState()).masterTime) < 0.5);
  await page.click('#player-play'); // pause
  assert.equal((await playerState()).playing, false);
});

test('repair: offset only, output written, verification in sync', async () => {
  needs(result, 'result page');
  await page.click('#repair-button');
  await page.locator('#repair-form').waitFor();
  assert.equal(await page.locator('input[name=repair-mode][value=offset]').isChecked(), true, 'offset only is suggested for an offset verdict');
  assert.match(await page.locator('#repair-form').innerText(), /OUTPUT_ROOT\/repairs\/\d{4}-\d\d-\d\d\//);
  await noUnlabelled('repair form');
  await screenshot(page, '06-repair-form');
  await page.click('#submit-repair');
  await page.locator('#repair-status').waitFor();
  await page.locator('#verification p[data-verdict=in_sync]').waitFor({ timeout: 240_000 });
  assert.match(await page.locator('#repair-output').innerText(), /^OUTPUT_ROOT\/repairs\/\d{4}-\d\d-\d\d\/.+/);
  const checks = await page.locator('#repair-checks tbody tr').allInnerTexts();
  assert.ok(checks.length > 0 && checks.every((c) => /passed/.test(c)), checks.join('\n'));
  await screenshot(page, '07-repair-done');
});

test('batches: a bad sheet shows the API message; a good sheet runs row by row and exports', async () => {
  await page.getByRole('link', { name: 'Batches' }).click();
  await page.locator('#batch-upload').waitFor();
  // A sheet without a dub column: the API's own message is shown.
  const bad = 'master,episode\nshows/ep1/master.mov,1\n';
  const expected = (await s.request('POST', '/api/v1/batches/csv', bad, { 'content-type': 'text/csv' })).body.error.message as string;
  await page.setInputFiles('#batch-file', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await page.click('#batch-submit');
  await page.locator('#batch-upload [role=alert]').waitFor();
  assert.ok((await page.locator('#batch-upload [role=alert]').innerText()).includes(expected), expected);

  const sheet = `master,dub,episode,notes\n${ep('master.mov')},${ep('dub-b1.wav')},101,late by 120 ms\n${ep('master.mov')},${ep('dub-b2.wav')},102,in sync\n`;
  await page.setInputFiles('#batch-file', { name: 'nightly.csv', mimeType: 'text/csv', buffer: Buffer.from(sheet) });
  await page.fill('#batch-name', 'Nightly');
  await noUnlabelled('batches');
  await page.click('#batch-submit');
  await page.locator('#batch-detail').waitFor();
  await page.locator('#batch-detail[data-status=completed]').waitFor({ timeout: 240_000 });
  await until(async () => (await page.locator('#batch-items tbody tr[data-status=completed]').count()) === 2, 20_000, 'both rows done');
  const rows = await page.locator('#batch-items tbody tr').allInnerTexts();
  assert.match(rows[0]!, /Offset/);
  assert.match(rows[0]!, /\+120\.\d ms|\+119\.\d ms/);
  assert.match(rows[1]!, /In sync/);
  await screenshot(page, '08-batch');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-export=csv]')]);
  const csv = await readFile((await download.path())!, 'utf8');
  assert.match(csv, /dub-b1\.wav/);
  assert.match(csv, /dub-b2\.wav/);
  assert.equal(csv.trim().split('\n').length, 3, csv);
  const [jsonDl] = await Promise.all([page.waitForEvent('download'), page.click('[data-export=json]')]);
  const json = JSON.parse(await readFile((await jsonDl.path())!, 'utf8'));
  assert.ok(JSON.stringify(json).includes('dub-b2.wav'));
  await page.getByRole('link', { name: 'Batches' }).click();
  await page.locator('#batches-table tbody tr').first().waitFor();
  assert.match(await page.locator('#batches-table').innerText(), /Nightly/);
});

test('reports: search the history by file name and verdict, open a past result', async () => {
  needs(analysisId, 'submit');
  await page.getByRole('link', { name: 'Reports' }).click();
  await page.locator('#reports-table').waitFor();
  await page.fill('#search-file', 'dub-fr');
  await page.click('#search-submit');
  // The table is replaced when the answer arrives: poll until it shows only matches.
  const column = (n: number) => page.locator(`#reports-table tbody tr td:nth-child(${n})`).allInnerTexts().catch(() => [] as string[]);
  await until(async () => {
    const names = await column(3);
    return names.length >= 1 && names.every((n) => n.includes('dub-fr'));
  }, 10_000, 'only dub-fr rows');
  assert.equal(new URL(page.url()).searchParams.get('file'), 'dub-fr', 'the search is in the URL (survives a reload)');
  assert.equal(await page.locator(`#reports-table tr[data-id="${analysisId}"]`).count(), 1);
  // In sync dubs: the verification of the repair and the in-sync batch row, not the offset dub.
  await page.fill('#search-file', '');
  await page.selectOption('#search-verdict', 'in_sync');
  await page.click('#search-submit');
  const verdictsShown = () => page.locator('#reports-table tbody [data-verdict]').evaluateAll((els) => els.map((e) => e.getAttribute('data-verdict'))).catch(() => [] as (string | null)[]);
  await until(async () => {
    const v = await verdictsShown();
    return v.length >= 2 && v.every((x) => x === 'in_sync');
  }, 10_000, 'only in-sync rows');
  assert.equal(await page.locator(`#reports-table tr[data-id="${analysisId}"]`).count(), 0);
  await noUnlabelled('reports');
  await screenshot(page, '09-reports');
  await page.locator('#reports-table tbody tr a[href^="/analyses/"]').first().click();
  await page.locator('#offset-sentence').waitFor();
});

test('system: health checks, workers, queues, links to the queue dashboard and the API docs', async () => {
  await page.getByRole('link', { name: 'System' }).click();
  await page.locator('#health-checks').waitFor();
  const checks = await page.locator('#health-checks').innerText();
  for (const name of ['api', 'redis', 'database', 'disk-data', 'ffmpeg', 'execution provider']) assert.match(checks, new RegExp(name));
  assert.equal(await page.locator('#health-status').innerText(), 'Healthy');
  await page.locator('#workers-table tbody tr').first().waitFor();
  assert.match(await page.locator('#queues-table').innerText(), /analysis/);
  for (const href of ['/admin/queues', '/api/docs']) {
    assert.equal(await page.locator(`a[href="${href}"]`).count(), 1);
    // The session cookie opens them too.
    assert.equal((await context.request.get(`${s.api.url}${href}`)).status(), 200, href);
  }
  await screenshot(page, '10-system');
});

test('keyboard: the skip link comes first and every page is reachable from the navigation', async () => {
  await page.goto(`${s.api.url}/jobs`);
  await page.locator('#jobs-table').waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate('document.activeElement?.textContent'), 'Skip to content');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate('document.activeElement?.textContent'), 'New analysis');
  await page.keyboard.press('Enter');
  await page.locator('#file-browser').waitFor();
});
