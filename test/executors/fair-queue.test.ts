/** FairQueue as plain data: the order in which owners' items are offered. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FairQueue } from '../../src/executors/local/fair-queue.js';

function takeAll(queue: FairQueue<string>, release: boolean): string[] {
  const taken: string[] = [];
  for (let entry = queue.peek(); entry !== undefined; entry = queue.peek()) {
    queue.take(entry);
    taken.push(entry.item);
    if (release) queue.release(entry.owner);
  }
  return taken;
}

test('owners take turns; each owner\'s items keep their order', () => {
  const queue = new FairQueue<string>(10);
  for (const item of ['a1', 'a2', 'a3', 'a4']) queue.push('a', item);
  queue.push('b', 'b1');
  queue.push('c', 'c1');
  queue.push('b', 'b2');
  assert.equal(queue.size, 7);
  assert.deepEqual(takeAll(queue, true), ['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
  assert.equal(queue.size, 0);
});

test('an owner at its cap leaves the line until it releases', () => {
  const queue = new FairQueue<string>(1);
  queue.push('a', 'a1');
  queue.push('a', 'a2');
  queue.push('b', 'b1');
  assert.deepEqual(takeAll(queue, false), ['a1', 'b1']);
  assert.equal(queue.peek(), undefined);
  queue.release('a');
  assert.equal(queue.peek()?.item, 'a2');
});

test('removed entries are skipped, and removing twice or after taking is a no-op', () => {
  const queue = new FairQueue<string>(10);
  const entries = ['a1', 'a2', 'a3'].map((item) => queue.push('a', item));
  const b1 = queue.push('b', 'b1');
  assert.equal(queue.remove(entries[1]), true);
  assert.equal(queue.remove(entries[1]), false);
  assert.equal(queue.remove(b1), true);
  assert.deepEqual(takeAll(queue, true), ['a1', 'a3']);
  assert.equal(queue.remove(entries[0]), false);
});

test('drain empties every owner\'s queue', () => {
  const queue = new FairQueue<string>(10);
  queue.push('a', 'a1');
  queue.push('b', 'b1');
  queue.push('a', 'a2');
  assert.deepEqual(queue.drain().sort(), ['a1', 'a2', 'b1']);
  assert.equal(queue.peek(), undefined);
  assert.equal(queue.size, 0);
});
