// Types for scripts/vscode-setup.mjs, which stays plain JavaScript so it runs as a CLI before anything is built.
export declare const CODE_SERVER_VERSION: string;

export interface VsCodeTestEnv {
  /** node_modules/.bin/code-server of the cached code-server install. */
  codeServerBin: string;
  /** Debian's chromium, for playwright-core's executablePath. */
  chromium: string;
}

/** Installs (once, under a lock) what the VS Code tests need; a fast no-op when already done. */
export declare function ensureVsCodeTestEnv(): Promise<VsCodeTestEnv>;
