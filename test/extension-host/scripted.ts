/**
 * Answers the extension's prompts the way a person would, from a script, and checks what was asked. Only the input
 * boxes and quick picks are scripted; the commands, the client and the server are all real.
 */
import assert from 'node:assert/strict';
import type { InputRequest, PickItem, PickRequest, Prompter } from '../../extension/prompter.js';

type Step =
  | { kind: 'input'; prompt: RegExp; answer: string | undefined; password?: boolean }
  | { kind: 'pick'; title: RegExp; choose: (items: PickItem[], r: PickRequest) => PickItem | undefined }
  | { kind: 'pickMany'; choose: (items: PickItem[]) => PickItem[] | undefined }
  | { kind: 'confirm'; message: RegExp; answer: boolean };

export class ScriptedPrompter {
  private steps: Step[] = [];
  /** Every prompt shown, for assertions about what a person saw. */
  readonly seen: string[] = [];

  input(prompt: RegExp, answer: string | undefined, password?: boolean): this {
    this.steps.push({ kind: 'input', prompt, answer, ...(password === undefined ? {} : { password }) });
    return this;
  }
  pick(title: RegExp, choose: (items: PickItem[], r: PickRequest) => PickItem | undefined): this {
    this.steps.push({ kind: 'pick', title, choose });
    return this;
  }
  pickMany(choose: (items: PickItem[]) => PickItem[] | undefined): this {
    this.steps.push({ kind: 'pickMany', choose });
    return this;
  }
  confirm(message: RegExp, answer: boolean): this {
    this.steps.push({ kind: 'confirm', message, answer });
    return this;
  }
  /** All scripted answers were used. */
  done(): void {
    assert.equal(this.steps.length, 0, `unused prompt answers: ${this.steps.map((s) => s.kind).join(', ')}`);
  }

  private next<K extends Step['kind']>(kind: K, what: string): Extract<Step, { kind: K }> {
    this.seen.push(`${kind}: ${what}`);
    const s = this.steps.shift();
    assert.ok(s, `unexpected prompt (${kind}: ${what})`);
    assert.equal(s.kind, kind, `expected a ${s.kind} prompt, got ${kind}: ${what}`);
    return s as Extract<Step, { kind: K }>;
  }

  readonly prompter: Prompter = {
    input: async (r: InputRequest) => {
      const s = this.next('input', r.prompt);
      assert.match(r.prompt, s.prompt);
      if (s.password !== undefined) assert.equal(r.password ?? false, s.password, `password masking of "${r.prompt}"`);
      if (s.answer !== undefined && r.validate) {
        const problem = r.validate(s.answer);
        assert.equal(problem, undefined, `the input box refused "${s.answer}": ${problem}`);
      }
      return s.answer;
    },
    pick: async (items, r) => {
      const s = this.next('pick', r.title);
      assert.match(r.title, s.title);
      return s.choose(items, r);
    },
    pickMany: async (items, r) => this.next('pickMany', r.title).choose(items),
    confirm: async (message) => {
      const s = this.next('confirm', message);
      assert.match(message, s.message);
      return s.answer;
    },
  };
}

/** Picks the item with this id, failing if the list doesn't have it. */
export const byId =
  (id: string) =>
  (items: PickItem[]): PickItem => {
    const it = items.find((i) => i.id === id);
    assert.ok(it, `no item "${id}" among ${items.map((i) => i.id).join(', ')}`);
    return it;
  };

/** Types a value into a pick that accepts typed values. */
export const typed =
  (value: string) =>
  (_items: PickItem[], r: PickRequest): PickItem => {
    const it = r.allowTyped?.(value);
    assert.ok(it, `the pick does not accept a typed "${value}"`);
    return it;
  };
