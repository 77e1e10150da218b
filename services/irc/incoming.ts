/**
 * What a session passes on to the service: messages (for the relay and the commands) and CTCP
 * requests (for the service to answer, or not).
 */

/** A PRIVMSG (or ACTION) the bot received. */
export interface IncomingMessage {
  readonly nick: string;
  readonly ident: string;
  readonly hostname: string;
  /** The channel, or the bot's own nick for a private message. */
  readonly target: string;
  /** The channel it was said in; undefined for a private message. */
  readonly channel: string | undefined;
  readonly text: string;
  /** A /me action rather than a plain message. */
  readonly action: boolean;
  /** When it arrived (ms since the epoch). */
  readonly time: number;
}

/** A CTCP request (other than ACTION) sent to the bot or to one of its channels. */
export interface CtcpRequest {
  readonly nick: string;
  /** The channel, or the bot's own nick. */
  readonly target: string;
  /** Its text without the \x01 delimiters: `VERSION`, `PING 1700000000`. */
  readonly message: string;
}
