#!/usr/bin/env node
// The test command: typecheck, then every test file once on SQLite, then the files that use a
// database again on PostgreSQL, then the CWL conformance tests tagged `required`.
// WES_TEST_DIALECTS=sqlite (or postgres) runs just one database; file arguments run just those.
// When a Slurm cluster accepts jobs (CI starts one: scripts/slurm-test-cluster.sh), the e2e
// lifecycle suite runs once more with WES_EXECUTOR=slurm.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const DATABASE_DIRS = ['test/store', 'test/api', 'test/e2e', 'test/cli', 'test/security', 'test/runner'];
// test/browser (the dashboard in chromium through playwright-core) runs once, on SQLite: it tests
// the pages, not the store. It skips, saying why, when chromium or playwright-core is missing.
const dialects = (process.env.WES_TEST_DIALECTS ?? 'sqlite,postgres').split(',').filter(Boolean);
const only = process.argv.slice(2);

function testFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return testFiles(full);
      return entry.name.endsWith('.test.ts') ? [full] : [];
    })
    .sort();
}

function run(command, args, env = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (only.length === 0) run('npx', ['tsc', '--noEmit']);
const all = only.length > 0 ? only : testFiles('test');
for (const dialect of dialects) {
  const files = dialect === 'sqlite' ? all : all.filter((f) => DATABASE_DIRS.some((d) => f.startsWith(d)));
  if (files.length === 0) continue;
  console.log(`\n=== ${files.length} test files on ${dialect} ===`);
  run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { WES_TEST_DIALECT: dialect });
}

function slurmClusterUp() {
  const sinfo = spawnSync('sinfo', ['--noheader', '--format=%t'], { encoding: 'utf8' });
  return sinfo.status === 0 && /^(idle|mix|alloc)/m.test(sinfo.stdout);
}

if (only.length === 0 && dialects.includes('sqlite')) {
  if (slurmClusterUp()) {
    console.log('\n=== e2e lifecycle on Slurm (WES_EXECUTOR=slurm, sqlite) ===');
    run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/e2e/run-lifecycle.test.ts'], {
      WES_TEST_DIALECT: 'sqlite',
      WES_EXECUTOR: 'slurm',
    });
  } else {
    console.log('\n=== e2e lifecycle on Slurm: skipped, no Slurm cluster accepts jobs (scripts/slurm-test-cluster.sh start) ===');
  }
}

if (only.length === 0) {
  console.log('\n=== CWL v1.2 conformance: required ===');
  run(process.execPath, ['--import', 'tsx', 'scripts/conformance.ts', '--tags', 'required', '-j', '2']);
}
