import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dubTimeInPieces, energyColumns, masterToDub, playbackPieces, segmentRate } from './mapping.ts';

const close = (a: number | null, b: number, eps = 1e-9) => assert.ok(a !== null && Math.abs(a - b) < eps, `${a} vs ${b}`);

// An edited dub: 0–15 s of master at +0.5 s, then 4 s of master removed, 19–40 s at +0.5 − 4 s.
const edited = [
  { master_start: 0.2, master_end: 15, dub_start: 0.7, dub_end: 15.5 },
  { master_start: 19, master_end: 40, dub_start: 15.5, dub_end: 36.5 },
];
// A 25/24 drift: dub time = master time × 25/24.
const drift = [{ master_start: 0, master_end: 24, dub_start: 0, dub_end: 25 }];

test('inside a segment the dub time follows its line; the ends are extended; edits have none', () => {
  close(masterToDub(edited, 10), 10.5);
  close(masterToDub(edited, 0), 0.5, 1e-9);
  close(masterToDub(edited, 30), 26.5);
  close(masterToDub(edited, 45), 41.5);
  assert.equal(masterToDub(edited, 17), null);
  close(masterToDub(drift, 12), 12.5);
  close(segmentRate(drift[0]!), 25 / 24);
  assert.equal(masterToDub([], 3), null);
});

test('corrected playback: one piece per segment at its rate, silence across the edit', () => {
  const pieces = playbackPieces(edited, 'corrected', 10, 36.5);
  assert.equal(pieces.length, 2);
  close(pieces[0]!.masterFrom, 10);
  close(pieces[0]!.dubFrom, 10.5);
  close(pieces[0]!.masterTo, 15);
  close(pieces[1]!.masterFrom, 19);
  close(pieces[1]!.dubFrom, 15.5);
  close(pieces[1]!.masterTo, 40, 1e-9); // the dub ends at 36.5 = master 40
  assert.equal(dubTimeInPieces(pieces, 17), null);
  close(dubTimeInPieces(pieces, 20), 16.5);
  const d = playbackPieces(drift, 'corrected', 6, 25);
  close(d[0]!.rate, 25 / 24);
  close(dubTimeInPieces(d, 12), 12.5);
});

test('an early dub starts when its content starts; uncorrected plays the same clock time', () => {
  const early = [{ master_start: 0, master_end: 20, dub_start: -0.4, dub_end: 19.6 }];
  const p = playbackPieces(early, 'corrected', 0, 19.6);
  close(p[0]!.masterFrom, 0.4);
  close(p[0]!.dubFrom, 0);
  const u = playbackPieces(early, 'uncorrected', 5, 19.6);
  assert.equal(u.length, 1);
  close(dubTimeInPieces(u, 7)!, 7);
  assert.equal(dubTimeInPieces(u, 19.7), null);
  assert.deepEqual(playbackPieces(early, 'corrected', 30, 19.6), []);
});

test('energy columns take the loudest hop, read through the mapping', () => {
  const db = Array.from({ length: 100 }, (_, i) => (i === 42 ? -3 : -60));
  const plain = energyColumns(db, 0.05, 10, 0, 5);
  assert.equal(plain[4], -3); // hop 42 = 2.1 s, column 4 covers 2.0–2.5 s
  assert.equal(plain[0], -60);
  const shifted = energyColumns(db, 0.05, 10, 0, 5, (t) => (t < 1 ? null : t + 0.5));
  assert.equal(shifted[0], null);
  assert.equal(shifted[3], -3); // master 1.5–2.0 s reads dub 2.0–2.5 s
  assert.equal(energyColumns(db, 0.05, 2, 10, 20)[0], null, 'past the end');
});
