/**
 * Per-job cgroups and network namespaces are removed at start only when the server that made
 * them is gone: several servers may share a data directory (and so a name prefix).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { isStaleName } from '../../src/executors/sandbox/stale-name.js';

test('a name is stale only when its server pid is gone', async () => {
  const exited = spawn('true');
  await new Promise((resolve) => exited.once('exit', resolve));
  const live = spawn('sleep', ['100']);
  try {
    assert.equal(isStaleName(`wes-abc-${exited.pid}-3`, 'wes-abc'), true, 'a gone server\'s name was kept');
    assert.equal(isStaleName(`wes-abc-${live.pid}-3`, 'wes-abc'), false, 'a live server\'s name was taken');
    assert.equal(isStaleName(`wes-abc-${process.pid}-0`, 'wes-abc'), false, 'its own name was taken');
    assert.equal(isStaleName(`wes-abd-${exited.pid}-3`, 'wes-abc'), false, 'another data directory\'s name was taken');
    assert.equal(isStaleName(`wes-abc-probe-${exited.pid}`, 'wes-abc'), false);
  } finally {
    live.kill('SIGKILL');
  }
});
