#!/usr/bin/env node
// Compiles src/ to plain JavaScript (`npm run build`; `npm start` runs it first): the server then
// starts without tsx, whose compiler costs about 60 MB of resident memory for the server's life
// and a second process. Incremental, so a build with nothing changed takes a second or two.
// The dashboard's static files and the module entry go beside the compiled code, where the
// compiled modules look for them. `--out-dir <dir>` builds elsewhere (the build's own test).
import { spawnSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const at = process.argv.indexOf('--out-dir');
const outDir = path.resolve(at >= 0 ? process.argv[at + 1] : path.join(root, 'dist'));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const build = spawnSync(
  process.execPath,
  [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', outDir, '--tsBuildInfoFile', path.join(outDir, '.tsbuildinfo')],
  { stdio: 'inherit' },
);
if (build.status !== 0) process.exit(build.status ?? 1);
cpSync(path.join(root, 'src', 'web'), path.join(outDir, 'web'), { recursive: true });
cpSync(path.join(root, 'src', 'module-entry.mjs'), path.join(outDir, 'module-entry.mjs'));
