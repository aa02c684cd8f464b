#!/usr/bin/env node
// The test command: typecheck, then every test file once on SQLite, then the files that use a
// database again on PostgreSQL, then the CWL conformance tests tagged `required`.
// WES_TEST_DIALECTS=sqlite (or postgres) runs just one database; file arguments run just those.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const DATABASE_DIRS = ['test/store', 'test/api', 'test/e2e', 'test/cli', 'test/security'];
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

if (only.length === 0) {
  console.log('\n=== CWL v1.2 conformance: required ===');
  run(process.execPath, ['--import', 'tsx', 'scripts/conformance.ts', '--tags', 'required', '-j', '2']);
}
