/** loadConfig: what each WES_SLURM_* variable becomes, and bad values refused naming the variable. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config.js';

test('WES_SLURM_MAX_ARRAY_SIZE: 1000 jobs per array unless set; any positive integer, 1 for no arrays', () => {
  assert.equal(loadConfig({}).slurm.maxArraySize, 1000);
  assert.equal(loadConfig({ WES_SLURM_MAX_ARRAY_SIZE: '' }).slurm.maxArraySize, 1000);
  assert.equal(loadConfig({ WES_SLURM_MAX_ARRAY_SIZE: '1' }).slurm.maxArraySize, 1);
  assert.equal(loadConfig({ WES_SLURM_MAX_ARRAY_SIZE: '5000' }).slurm.maxArraySize, 5000);
  // Independent of the limit on jobs in Slurm, which bounds arrays as well.
  const { maxArraySize, maxJobs } = loadConfig({ WES_SLURM_MAX_ARRAY_SIZE: '50', WES_SLURM_MAX_JOBS: '200' }).slurm;
  assert.deepEqual([maxArraySize, maxJobs], [50, 200]);
});

test('a WES_SLURM_MAX_ARRAY_SIZE that is not a positive integer stops the start, naming the variable and the value', () => {
  for (const bad of ['0', '-3', '2.5', 'many', 'Infinity']) {
    assert.throws(() => loadConfig({ WES_SLURM_MAX_ARRAY_SIZE: bad }), {
      message: `WES_SLURM_MAX_ARRAY_SIZE must be a positive integer, got "${bad}"`,
    });
  }
});
