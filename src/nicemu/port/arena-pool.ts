/**
 * Receive arenas a port lends and gets back, as a driver's page pool lends
 * rx pages to the stack and recycles each once the stack lets go of it.
 * The NIC thread receives into the current arena, lends it to the host
 * thread when a message needs much of it (nicemu/thread/outbox.ts) —
 * transferred, not copied — and goes on in a free one; the host transfers
 * it back once it no longer reads it (nicemu/thread/inbox.ts). Nothing is
 * allocated once the pool holds as many arenas as are out at once, and
 * neither thread's garbage collector sees receive memory come and go.
 *
 * Why transferred and not shared: a SharedArrayBuffer is read and written
 * with relaxed atomic copies, byte by byte when source and destination
 * disagree mod 8 — and a payload lies wherever its headers end. Copying it
 * from a shared arena into the shared read buffer cost the host thread more
 * than the garbage collection the pool saves.
 */
import { PortError } from './port.js';

export class ArenaPool {
  /** Every arena by id; null while lent. */
  private readonly arenas: (ArrayBuffer | null)[] = [];
  private readonly free: number[] = [];
  /** The arena received into now: its id and a view of it. */
  private currentId: number;
  private view: Buffer;
  /** Arenas lent and not given back yet. */
  lent = 0;

  /**
   * @param arenaBytes size of every arena
   * @param maxArenas the pool never holds more: with none free, lend() says so (undefined)
   */
  constructor(
    readonly arenaBytes: number,
    readonly maxArenas: number,
  ) {
    if (!Number.isInteger(maxArenas) || maxArenas < 1) throw new RangeError(`an arena pool needs at least one arena, not ${maxArenas}`);
    this.currentId = this.grow();
    this.view = Buffer.from(this.arenas[this.currentId]!);
  }

  /** The arena received into now. */
  get current(): Buffer {
    return this.view;
  }

  /** Arenas the pool holds (lent, free and current). */
  get size(): number {
    return this.arenas.length;
  }

  /**
   * Lends the current arena — its id and memory, for the borrower to have
   * transferred — and makes a free one (or a new one, below maxArenas)
   * current; undefined when there is no other arena to go on in (the
   * current one stays current).
   */
  lend(): { readonly id: number; readonly memory: ArrayBuffer } | undefined {
    let next = this.free.pop();
    if (next === undefined) {
      if (this.arenas.length >= this.maxArenas) return undefined;
      next = this.grow();
    }
    const id = this.currentId;
    const memory = this.arenas[id]!;
    this.arenas[id] = null;
    this.currentId = next;
    this.view = Buffer.from(this.arenas[next]!);
    this.lent++;
    return { id, memory };
  }

  /** Arena `id` comes back (transferred back: `memory`): it may be received into again. */
  giveBack(id: number, memory: ArrayBuffer): void {
    // Only an arena that is out, whole: a stray or repeated id would let two owners write one arena.
    if (!Number.isInteger(id) || id < 0 || id >= this.arenas.length || this.arenas[id] !== null) {
      throw new PortError('PORT_ARENA', `arena ${id} was not lent`);
    }
    if (!(memory instanceof ArrayBuffer) || memory.byteLength !== this.arenaBytes) {
      throw new PortError('PORT_ARENA', `arena ${id} came back as ${memory instanceof ArrayBuffer ? `${memory.byteLength} bytes` : 'something else'}, not its ${this.arenaBytes}`);
    }
    this.arenas[id] = memory;
    this.free.push(id);
    this.lent--;
  }

  private grow(): number {
    this.arenas.push(new ArrayBuffer(this.arenaBytes));
    return this.arenas.length - 1;
  }
}
