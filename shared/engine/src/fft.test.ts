import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realSpectra, realSpectrum } from './fft.ts';
import { createRng } from './prng.ts';

test('paired real spectra equal separate real transforms', () => {
  const rng = createRng(5);
  const sigs = [0, 1, 2].map(() => Float64Array.from({ length: 900 }, () => rng.gaussian()));
  const paired = realSpectra(sigs, 1024);
  sigs.forEach((s, i) => {
    const ref = realSpectrum(s, 1024);
    let err = 0;
    for (let k = 0; k < ref.length; k++) err = Math.max(err, Math.abs(ref[k]! - paired[i]![k]!));
    assert.ok(err < 1e-9, `signal ${i}: max error ${err}`);
  });
});
