/** Every operation's handler; the mapped type makes a missing one a compile error. */
import type { OpName } from '../../protocol/ops.js';
import { accountHandlers } from './accounts.js';
import { authHandlers } from './auth.js';
import type { Handlers } from './context.js';
import { messageHandlers } from './messages.js';

export { DEFERRED, type Ctx } from './context.js';

export const HANDLERS: Handlers<OpName> = { ...authHandlers, ...messageHandlers, ...accountHandlers };
