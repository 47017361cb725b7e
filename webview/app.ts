/** What every part of the view is given: the store, the UI state, and navigation. */
import type { Page, UiState } from './host.js';
import type { Store } from './store.js';

export interface App {
  readonly store: Store;
  readonly ui: UiState;
  /** Saves the UI state (debounced). */
  save(): void;
  /** Shows a page (and for a conversation, whose). */
  go(page: Page, peer?: string | null): void;
  /** Re-renders soon. */
  render(): void;
}

/** A part of the screen: built once, then brought up to date by update() (which must be cheap and idempotent). */
export interface Part {
  readonly root: HTMLElement;
  update(): void;
  /** Called once it is in the document (e.g. to place focus or scroll). */
  mounted?(): void;
  dispose?(): void;
}
