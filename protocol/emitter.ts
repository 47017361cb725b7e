/** A minimal typed event emitter (works in any JavaScript host; no Node or VS Code dependency). */
export type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  private readonly listeners: { [K in keyof E]?: Set<Listener<E[K]>> } = {};

  /** Returns a function that removes the listener. */
  on<K extends keyof E>(event: K, fn: Listener<E[K]>): () => void {
    (this.listeners[event] ??= new Set()).add(fn);
    return () => this.listeners[event]?.delete(fn);
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    // forEach, not for…of: the same live view of the set (a listener added or removed by a listener counts at
    // once), without an iterator and a result object per listener for every event (the client emits one per push).
    this.listeners[event]?.forEach(callWith, args);
  }
}

/** Calls a listener with the event's arguments (`this`, from Set.forEach). */
function callWith<A extends unknown[]>(this: A, fn: Listener<A>): void {
  fn(...this);
}
