/**
 * CTCP requests the bot answers itself. irc-framework answers VERSION on its own, straight to
 * the socket (past flood control); the session turns that off (`version: null`) so that every
 * CTCP request comes here, and the service sends the answer through the per-user rate limit
 * and the outgoing queue like any other reply.
 */

/** The CTCP requests answered; any other is ignored. */
export const CTCP_ANSWERED = ['CLIENTINFO', 'PING', 'TIME', 'VERSION'] as const;

/** What the bot says it is (CTCP VERSION). */
export const CTCP_VERSION = 'hendrix';

/** The longest PING token echoed back (a client's timestamp is far shorter). */
const PING_TOKEN_CHARS = 64;

/** The CTCP delimiter. */
const X01 = '\x01';

/**
 * The answer (a NOTICE text, delimiters included) to the CTCP request `message` (its text
 * without the delimiters: `PING 1700000000`), or undefined when the bot does not answer it.
 */
export function ctcpReply(message: string, now: number): string | undefined {
  const space = message.indexOf(' ');
  const type = (space === -1 ? message : message.slice(0, space)).toUpperCase();
  const args = space === -1 ? '' : message.slice(space + 1);
  switch (type) {
    case 'VERSION':
      return `${X01}VERSION ${CTCP_VERSION}${X01}`;
    case 'PING': {
      // echoed, so only what cannot break the framing or the line, and not much of it
      const token = [...args.replace(/[\x00-\x1f\x7f]/g, '')].slice(0, PING_TOKEN_CHARS).join('');
      return `${X01}PING${token === '' ? '' : ` ${token}`}${X01}`;
    }
    case 'TIME':
      return `${X01}TIME ${new Date(now).toUTCString()}${X01}`;
    case 'CLIENTINFO':
      return `${X01}CLIENTINFO ACTION ${CTCP_ANSWERED.join(' ')}${X01}`;
    default:
      return undefined;
  }
}
