// locate.mjs: finding the SDK package a driver runs, for both Node drivers. Owns resolving an
// npm package from the folder the environment names (its node_modules, never
// adapters/shared/'s, which does not exist), reading its manifest, and the error that says
// how to install it. What a driver then checks (supported majors, entry files) is its own.

import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * The package `name` as installed under `sdkDir`: `{require, manifest, version, packageDir}`,
 * `require` resolving from `sdkDir` (every later package the driver loads comes through it).
 * Exits with a message naming `envVar` and the folder to `npm ci` in (`installDir`) if absent.
 */
export function locatePackage({ sdkDir, name, envVar, installDir }) {
  const require = createRequire(join(sdkDir, 'noop.js'));
  // `package.json` is not in every package's `exports`: look along the resolution paths.
  const manifestPath = (require.resolve.paths(name) ?? [])
    .map((folder) => join(folder, ...name.split('/'), 'package.json'))
    .find((candidate) => existsSync(candidate));
  if (!manifestPath) {
    process.stderr.write(
      `cannot find ${name} under ${sdkDir}/node_modules (${envVar})\n` +
        `install it: cd ${installDir} && npm ci --ignore-scripts --no-audit --no-fund\n`,
    );
    process.exit(1);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  return { require, manifest, version: manifest.version, packageDir: dirname(manifestPath) };
}

/** The hello's `entry`: the entry file relative to its package, with `/` on every platform. */
export function entryName(packageDir, entryPath) {
  return relative(packageDir, entryPath).split('\\').join('/');
}
