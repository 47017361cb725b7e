/**
 * How commands ask a person for input: input boxes, quick picks, confirmations. Everything goes through this
 * interface so the in-host tests can answer the same prompts a person sees without faking anything else.
 */
import * as vscode from 'vscode';

export interface InputRequest {
  title: string;
  prompt: string;
  password?: boolean;
  value?: string;
  placeHolder?: string;
  /** Returns a message when the value is not acceptable. */
  validate?: (value: string) => string | undefined;
}

export interface PickItem extends vscode.QuickPickItem {
  /** What the item stands for (a username, a message id, a page action). */
  id: string;
}

export interface PickRequest {
  title: string;
  placeHolder: string;
  /** Offers whatever the person types as an item of its own (e.g. a recipient not in the list). */
  allowTyped?: (typed: string) => PickItem | undefined;
}

export interface Prompter {
  input(r: InputRequest): Promise<string | undefined>;
  pick(items: PickItem[], r: PickRequest): Promise<PickItem | undefined>;
  pickMany(items: PickItem[], r: PickRequest): Promise<PickItem[] | undefined>;
  /** A modal question; true when the person chose `action`. */
  confirm(message: string, detail: string, action: string): Promise<boolean>;
}

export const vscodePrompter: Prompter = {
  async input(r) {
    return vscode.window.showInputBox({
      title: r.title,
      prompt: r.prompt,
      password: r.password ?? false,
      value: r.value,
      placeHolder: r.placeHolder,
      ignoreFocusOut: true,
      validateInput: r.validate,
    });
  },

  pick(items, r) {
    return new Promise((resolve) => {
      const qp = vscode.window.createQuickPick<PickItem>();
      qp.title = r.title;
      qp.placeholder = r.placeHolder;
      qp.matchOnDescription = true;
      qp.items = items;
      if (r.allowTyped) {
        qp.onDidChangeValue((typed) => {
          const extra = typed ? r.allowTyped!(typed) : undefined;
          qp.items = extra && !items.some((i) => i.id === extra.id) ? [extra, ...items] : items;
        });
      }
      let done = false;
      qp.onDidAccept(() => {
        done = true;
        resolve(qp.selectedItems[0]);
        qp.hide();
      });
      qp.onDidHide(() => {
        if (!done) resolve(undefined);
        qp.dispose();
      });
      qp.show();
    });
  },

  async pickMany(items, r) {
    return vscode.window.showQuickPick(items, { title: r.title, placeHolder: r.placeHolder, canPickMany: true });
  },

  async confirm(message, detail, action) {
    return (await vscode.window.showWarningMessage(message, { modal: true, detail }, action)) === action;
  },
};
