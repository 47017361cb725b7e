/** The resume token, in SecretStorage only, one per server address. */
import type * as vscode from 'vscode';

export class TokenStore {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  private key(address: string): string {
    return `jochat.session/${address}`;
  }

  get(address: string): Thenable<string | undefined> {
    return this.secrets.get(this.key(address));
  }

  async set(address: string, token: string | undefined): Promise<void> {
    if (token === undefined) await this.secrets.delete(this.key(address));
    else await this.secrets.store(this.key(address), token);
  }
}
