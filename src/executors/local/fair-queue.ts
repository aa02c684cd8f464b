/**
 * The wait queue of the local executor: one FIFO per owner, owners served round-robin. The
 * owner whose turn it is offers its oldest item; once that item is taken the owner goes to the
 * back of the line. An owner holding `maxActivePerOwner` taken items leaves the line until one
 * is released, so it cannot block others. Every operation is O(1): items and owners are nodes
 * of intrusive doubly linked lists, so dropping one queued item among 100,000 is as cheap as
 * taking the first.
 */

/** A queued item; keep it to remove the item before it is taken. */
export interface QueueEntry<T> {
  readonly item: T;
  readonly owner: string;
}

interface ItemNode<T> extends QueueEntry<T> {
  prev: ItemNode<T> | undefined;
  next: ItemNode<T> | undefined;
  queued: boolean;
}

interface OwnerNode<T> {
  readonly name: string;
  head: ItemNode<T> | undefined;
  tail: ItemNode<T> | undefined;
  /** Items taken and not yet released. */
  active: number;
  /** Position in the line of owners waiting for their turn; linked only while it is in line. */
  prev: OwnerNode<T> | undefined;
  next: OwnerNode<T> | undefined;
  inLine: boolean;
}

export class FairQueue<T> {
  readonly #maxActivePerOwner: number;
  readonly #owners = new Map<string, OwnerNode<T>>();
  #first: OwnerNode<T> | undefined;
  #last: OwnerNode<T> | undefined;
  #size = 0;

  constructor(maxActivePerOwner: number) {
    this.#maxActivePerOwner = maxActivePerOwner;
  }

  /** Items waiting (not taken, not removed). */
  get size(): number {
    return this.#size;
  }

  /** Appends `item` to its owner's FIFO. */
  push(owner: string, item: T): QueueEntry<T> {
    const node = this.#ownerNode(owner);
    const entry: ItemNode<T> = { item, owner, prev: node.tail, next: undefined, queued: true };
    if (node.tail === undefined) node.head = entry;
    else node.tail.next = entry;
    node.tail = entry;
    this.#size++;
    this.#updateLine(node);
    return entry;
  }

  /** The entry the next free slot goes to, or undefined when no owner may start anything. */
  peek(): QueueEntry<T> | undefined {
    return this.#first?.head;
  }

  /**
   * Takes the entry `peek()` returned: it leaves the queue, counts as active for its owner
   * until `release`, and its owner moves to the back of the line.
   */
  take(entry: QueueEntry<T>): void {
    const owner = this.#owners.get(entry.owner);
    if (owner === undefined || owner.head !== entry) throw new Error('only the entry peek() returned can be taken');
    this.#unlinkItem(owner, owner.head);
    owner.active++;
    this.#leaveLine(owner);
    this.#updateLine(owner);
  }

  /** Drops a waiting entry; false when it was already taken or removed. */
  remove(entry: QueueEntry<T>): boolean {
    const node = entry as ItemNode<T>;
    const owner = this.#owners.get(entry.owner);
    if (!node.queued || owner === undefined) return false;
    this.#unlinkItem(owner, node);
    this.#updateLine(owner);
    return true;
  }

  /** A taken entry of `owner` has finished: the owner may take another. */
  release(owner: string): void {
    const node = this.#owners.get(owner);
    if (node === undefined || node.active === 0) throw new Error(`owner ${owner} has no active item to release`);
    node.active--;
    this.#updateLine(node);
  }

  /** Removes and returns every waiting item, oldest of each owner first. */
  drain(): T[] {
    const items: T[] = [];
    for (const owner of this.#owners.values()) {
      for (let node = owner.head; node !== undefined; node = node.next) {
        node.queued = false;
        items.push(node.item);
      }
      owner.head = owner.tail = undefined;
      this.#updateLine(owner);
    }
    this.#size = 0;
    return items;
  }

  #ownerNode(name: string): OwnerNode<T> {
    let node = this.#owners.get(name);
    if (node === undefined) {
      node = { name, head: undefined, tail: undefined, active: 0, prev: undefined, next: undefined, inLine: false };
      this.#owners.set(name, node);
    }
    return node;
  }

  #unlinkItem(owner: OwnerNode<T>, node: ItemNode<T>): void {
    if (node.prev === undefined) owner.head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) owner.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = node.next = undefined;
    node.queued = false;
    this.#size--;
  }

  /** Puts the owner in line (at the back) when it has work and room, takes it out otherwise. */
  #updateLine(owner: OwnerNode<T>): void {
    const eligible = owner.head !== undefined && owner.active < this.#maxActivePerOwner;
    if (eligible && !owner.inLine) {
      owner.prev = this.#last;
      owner.next = undefined;
      if (this.#last === undefined) this.#first = owner;
      else this.#last.next = owner;
      this.#last = owner;
      owner.inLine = true;
    } else if (!eligible) {
      this.#leaveLine(owner);
    }
    // Owners with nothing queued and nothing running are forgotten, so the map stays small.
    if (owner.head === undefined && owner.active === 0) this.#owners.delete(owner.name);
  }

  #leaveLine(owner: OwnerNode<T>): void {
    if (!owner.inLine) return;
    if (owner.prev === undefined) this.#first = owner.next;
    else owner.prev.next = owner.next;
    if (owner.next === undefined) this.#last = owner.prev;
    else owner.next.prev = owner.prev;
    owner.prev = owner.next = undefined;
    owner.inLine = false;
  }
}
