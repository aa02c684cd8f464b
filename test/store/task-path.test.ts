import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatStepPath, formatTaskId, parseTaskId, sortKeyOf, type PathCoordinate } from '../../src/store/task-path.js';

const coordinate = fc.record(
  { order: fc.nat({ max: 5000 }), element: fc.option(fc.nat({ max: 5000 }), { nil: undefined }) },
  { requiredKeys: ['order'] },
);
const path = fc.array(coordinate, { minLength: 1, maxLength: 4 });

test('task ids round-trip through parseTaskId', () => {
  fc.assert(
    fc.property(path, fc.option(fc.nat({ max: 10_000 }), { nil: undefined }), (p, jobIndex) => {
      const step = [...p.slice(0, -1), { order: p[p.length - 1].order }];
      const stepPath = formatStepPath(step);
      assert.deepEqual(parseTaskId(formatTaskId(stepPath, jobIndex)), { stepPath, jobIndex, sortKey: sortKeyOf(step) });
    }),
  );
});

test('sort keys order paths depth-first: parent, then its inner steps, then the next sibling', () => {
  const compare = (a: readonly PathCoordinate[], b: readonly PathCoordinate[]): number => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (a[i].order !== b[i].order) return a[i].order - b[i].order;
      const ea = a[i].element ?? -1;
      const eb = b[i].element ?? -1;
      if (ea !== eb) return ea - eb;
    }
    return a.length - b.length;
  };
  fc.assert(
    fc.property(path, path, (a, b) => {
      const byKey = sortKeyOf(a) < sortKeyOf(b) ? -1 : sortKeyOf(a) > sortKeyOf(b) ? 1 : 0;
      assert.equal(byKey, Math.sign(compare(a, b)));
    }),
  );
  assert.ok(sortKeyOf([{ order: 3 }]) < sortKeyOf([{ order: 3 }, { order: 0 }]));
  assert.ok(sortKeyOf([{ order: 3 }, { order: 99 }]) < sortKeyOf([{ order: 4 }]));
});

test('non-canonical or malformed task ids do not parse', () => {
  for (const id of ['', '01', '1.', '.1', '1..2', '1/', '/1', 'a', '1.2.3', '-1', ' 1', '1e3', '99999999999']) {
    assert.equal(parseTaskId(id), undefined, id);
  }
  assert.deepEqual(parseTaskId('3.2/1.4'), { stepPath: '3.2/1', jobIndex: 4, sortKey: sortKeyOf([{ order: 3, element: 2 }, { order: 1 }]) });
  assert.deepEqual(parseTaskId('7'), { stepPath: '7', jobIndex: undefined, sortKey: sortKeyOf([{ order: 7 }]) });
});
