/** The server's version, set from package.json at build time (esbuild `define`). */
declare const __JOCHAT_VERSION__: string | undefined;
export const SERVER_VERSION = typeof __JOCHAT_VERSION__ === 'string' ? __JOCHAT_VERSION__ : '0.0.0-dev';
