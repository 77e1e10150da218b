/**
 * The part of irc-framework (which ships no types) that the irc kind and its tests use.
 * See node_modules/irc-framework/src/client.js and docs/clientapi.md of the package.
 */
declare module 'irc-framework' {
  /** A parsed IRC line (irclineparser.js). */
  export interface IrcMessage {
    command: string;
    params: string[];
    prefix: string;
    nick: string;
    ident: string;
    hostname: string;
    tags: Record<string, string>;
  }

  /** A PRIVMSG, NOTICE or ACTION as the client emits it. */
  export interface MessageEvent {
    nick: string;
    ident: string;
    hostname: string;
    target: string;
    message: string;
    time?: number;
    type?: string;
    reply(text: string): void;
  }

  /** What a transport gets: the options given to connect(). */
  export interface TransportOptions {
    host: string;
    port: number;
    ping_interval?: number;
    ping_timeout?: number;
    [key: string]: unknown;
  }

  /** The transport contract (src/transports/net.js): a line-oriented socket. */
  export interface Transport {
    on(event: string, listener: (...args: any[]) => void): this;
    removeAllListeners(event?: string): this;
    isConnected(): boolean;
    writeLine(line: string, callback?: () => void): unknown;
    connect(): void;
    close(force?: boolean): void;
    disposeSocket(): void;
    setEncoding(encoding: string): boolean;
  }

  /** A transport class: `new options.transport(options)`. */
  export type TransportClass = new (options: TransportOptions) => Transport;

  /** Options of Client#connect(). */
  export interface ConnectOptions {
    host: string;
    port: number;
    nick: string;
    username?: string;
    gecos?: string;
    password?: string;
    account?: { account?: string; password?: string };
    sasl_disconnect_on_fail?: boolean;
    auto_reconnect?: boolean;
    ping_interval?: number;
    ping_timeout?: number;
    version?: string | null;
    encoding?: string;
    message_max_length?: number;
    transport?: TransportClass;
    [key: string]: unknown;
  }

  /** The irc-framework connection (src/connection.js), an eventemitter3 emitter. */
  export interface Connection {
    connected: boolean;
    on(event: 'message', listener: (message: IrcMessage, line: string) => void): this;
    on(event: string, listener: (...args: any[]) => void): this;
    write(line: string, callback?: () => void): unknown;
    end(data?: string, hadError?: boolean): void;
    clearTimers(): void;
    transport: Transport | null;
  }

  /** The IRC client. */
  export class Client {
    constructor(options?: Partial<ConnectOptions>);
    readonly connection: Connection;
    readonly connected: boolean;
    user: { nick: string; username: string; host?: string };
    network: { options: Record<string, unknown>; supports(feature: string): unknown; cap: { isEnabled(cap: string): boolean } };
    connect(options?: ConnectOptions): void;
    on(event: string, listener: (...args: any[]) => void): this;
    once(event: string, listener: (...args: any[]) => void): this;
    off(event: string, listener?: (...args: any[]) => void): this;
    removeAllListeners(event?: string): this;
    raw(...args: (string | number)[]): void;
    say(target: string, message: string): void;
    notice(target: string, message: string): void;
    join(channel: string, key?: string): void;
    part(channel: string, message?: string): void;
    changeNick(nick: string): void;
    quit(message?: string): void;
    caseCompare(a: string, b: string): boolean;
    caseLower(text: string): string;
  }
}
