/** Limits from the product spec, shared by the server (which enforces them) and clients (which check early). */
export const PROTOCOL_VERSION = 1;
export const DEFAULT_MAX_FRAME = 1024 * 1024;
export const MAX_TEXT_BYTES = 16_384;
export const USERNAME_RE = /^[A-Za-z0-9_.-]{1,32}$/;
export const MIN_ITERATIONS = 4096;
/** JoChat's own client derives keys with OWASP's PBKDF2-SHA-256 figure. */
export const DEFAULT_ITERATIONS = 600_000;
export const MAX_ITERATIONS = 10_000_000;
export const FETCH_MIN = 1;
export const FETCH_MAX = 500;
export const PAGE_MIN = 1;
export const PAGE_MAX = 100;
export const PAGE_DEFAULT = 20;
export const HISTORY_DEFAULT = 50;
export const HISTORY_MAX = 500;
export const MAX_IDS = 500;
export const MAX_CLIENT_MSG_ID = 64;
export const MAX_PATTERN = 64;
export const MAX_NONCE = 128;
export const MAX_KEY_BYTES = 64;
export const LOGIN_NONCE_TTL_MS = 60_000;
export const TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;
export const DEFAULT_IDLE_TIMEOUT_S = 90;
