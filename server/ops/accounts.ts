/** Account search: substring or glob, cursor-paginated, with online flags. */
import { MAX_PATTERN, PAGE_DEFAULT, PAGE_MAX, PAGE_MIN } from '../../protocol/limits.js';
import { fail } from '../errors.js';
import { inRange, me, type Handlers } from './context.js';

export const accountHandlers: Handlers<'list_accounts'> = {
  list_accounts(ctx, args) {
    me(ctx);
    if (args.pattern.length > MAX_PATTERN) fail('BAD_REQUEST', `a pattern is at most ${MAX_PATTERN} characters`);
    const limit = inRange('limit', args.limit ?? PAGE_DEFAULT, PAGE_MIN, PAGE_MAX);
    const { hub } = ctx;
    const page = hub.store.searchAccounts(args.pattern, args.cursor ?? '', limit);
    return {
      accounts: page.accounts.map((a) => ({ username: a.username, online: hub.online.has(a.id) })),
      total: page.total,
      cursor: page.next,
    };
  },
};
