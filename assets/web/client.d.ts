// Type declarations for the Orion Bridge JS client (client.js).

/** Why a connection failed; see REASONS for the English messages. */
export type Reason =
  | "not-running"
  | "certificate"
  | "origin"
  | "token"
  | "engine-down"
  | "too-large"
  | "permission"
  /** Another user of this computer runs the bridge on this port and this user runs none. */
  | "no-bridge-for-user";

export type Status = "connecting" | "open" | "reconnecting" | "closed";

/** Chrome's Local Network Access permission, or "unsupported" elsewhere. */
export type PermissionState = "granted" | "prompt" | "denied" | "unsupported";

export interface Failure {
  reason: Reason;
  /** The English message for reason, e.g. "Orion Bridge is not running or not installed". */
  message: string;
  /** More about this occurrence (a close reason, the port, a hint); may be empty. */
  detail: string;
  /** The port the failure was seen on, when one was. */
  port: number | null;
  /** The WebSocket close code, for failures of an open session (1009, 1011, 1013). */
  code: number | null;
  /** The bridge's close reason, e.g. "engine unavailable at 127.0.0.1:21400: connection refused". */
  closeReason: string;
  time: Date;
}

export interface Backoff {
  /** The first wait, default 500 ms. */
  initialMs?: number;
  /** The longest wait, default 10 000 ms. */
  maxMs?: number;
  /** Growth per attempt, default 2. */
  factor?: number;
  /** 0..1: how much of each wait is random, default 0.5. */
  jitter?: number;
}

export interface ConnectOptions {
  /** The bridge route, default "/ws". */
  route?: string;
  /** Ports to look for the bridge on, in order; default [21443, 21444, 21445, 21446]. */
  ports?: number[];
  /** Sent as the subprotocol bearer.<token> (or ?token= when it is not an HTTP token). */
  token?: string;
  /** The page's own subprotocols, offered before the bearer one. */
  protocols?: string[];
  /** Default "localhost". */
  host?: string;
  /** Reconnect after a drop, default true. */
  reconnect?: boolean;
  /** Give up (status "closed") after this many failed attempts in a row; default Infinity. */
  maxRetries?: number;
  backoff?: Backoff;
  /** The most messages send() queues while not connected, default 1000. */
  maxQueue?: number;
  /** The most bytes send() queues while not connected, default 16 MiB. */
  maxQueueBytes?: number;
  /** How long a WebSocket may take to open, default 10 000 ms. */
  connectTimeoutMs?: number;
  /** How long each diagnostic fetch may take, default 3000 ms. */
  probeTimeoutMs?: number;
  /** Probe http://localhost:PORT/health to tell a certificate problem from a stopped bridge; default true. */
  probeHttp?: boolean;
  /** localStorage key for the port that worked; null to not remember. Default "orionbridge.port". */
  storageKey?: string | null;
  /** For tests and other runtimes: the WebSocket constructor and fetch to use. */
  WebSocket?: typeof WebSocket;
  fetch?: typeof fetch;
}

export interface StatusDetail {
  status: Status;
  previous: Status | "idle";
  failure: Failure | null;
}

export interface CloseDetail {
  code: number;
  reason: string;
  wasClean: boolean;
  port: number;
}

export interface RetryDetail {
  /** 1 for the first retry after a success. */
  attempt: number;
  delayMs: number;
}

export interface BridgeClientEventMap {
  status: CustomEvent<StatusDetail>;
  connecting: CustomEvent<StatusDetail>;
  open: CustomEvent<StatusDetail>;
  reconnecting: CustomEvent<StatusDetail>;
  closed: CustomEvent<StatusDetail>;
  /** data is a string (text message) or an ArrayBuffer (binary message). */
  message: MessageEvent<string | ArrayBuffer>;
  failure: CustomEvent<Failure>;
  /** One session ended, with the close code and reason. */
  close: CustomEvent<CloseDetail>;
  retry: CustomEvent<RetryDetail>;
}

export type Sendable = string | ArrayBuffer | ArrayBufferView | Blob;

export class BridgeClient extends EventTarget {
  readonly options: Readonly<ConnectOptions>;
  readonly status: Status;
  readonly failure: Failure | null;
  readonly port: number | null;
  readonly protocol: string;
  readonly queued: number;
  readonly queuedBytes: number;
  /** The URL of the session, without any token; "" before the first one. */
  readonly url: string;

  /** Sends now (true) or queues until open (false); throws QueueFullError past the bound. */
  send(data: Sendable): boolean;
  /** Ends the session for good and drops the queue. */
  close(code?: number, reason?: string): void;
  /** Skips the backoff wait. */
  reconnectNow(): void;
  /** addEventListener that returns its own removal. */
  on<K extends keyof BridgeClientEventMap>(type: K, listener: (ev: BridgeClientEventMap[K]) => void): () => void;

  addEventListener<K extends keyof BridgeClientEventMap>(
    type: K, listener: (ev: BridgeClientEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof BridgeClientEventMap>(
    type: K, listener: (ev: BridgeClientEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

export class QueueFullError extends Error {
  readonly name: "QueueFullError";
  readonly queued: number;
  readonly bytes: number;
}

/** Starts a client and returns it at once. */
export function connect(options?: ConnectOptions): BridgeClient;

export interface PortProbe {
  port: number;
  /** https://HOST:PORT/health answered (TLS trusted). */
  https: boolean;
  /** The /health document, when readable (TLS trusted and this origin allowed). */
  health: Record<string, unknown> | null;
  /** What plain http://HOST:PORT/health said: "bridge" (readable), "answered" (opaque), "none", or "skipped". */
  plain: "bridge" | "answered" | "none" | "skipped";
}

export interface ProbeResult {
  permission: PermissionState;
  probes: PortProbe[];
  /** null when nothing is wrong as far as the probes can tell. */
  failure: Failure | null;
  port: number | null;
  health: Record<string, unknown> | null;
}

/** Checks every port without opening a session. */
export function probe(options?: ConnectOptions): Promise<ProbeResult>;

/** Reads Chrome's Local Network Access permission for this page. */
export function localNetworkPermission(): Promise<PermissionState>;

export const APP_NAME: "Orion Bridge";
export const DEFAULT_PORTS: readonly number[];
export const REASONS: Readonly<Record<Reason, string>>;
/** The reason messages by language tag ("en" is REASONS, "ko" Korean). */
export const MESSAGES: Readonly<Record<string, Readonly<Record<Reason, string>>>>;
/**
 * The explanation of a reason code in the first of the given languages
 * that the client has ("ko", "ko-KR", or a list such as
 * navigator.languages, the default), else in English; an unknown code
 * comes back as it is.
 */
export function message(reason: Reason | string, lang?: string | readonly string[]): string;
/** The first preferred language whose base is available, else available[0]. */
export function matchLanguage(preferred: string | readonly string[] | undefined, available: readonly string[]): string;

/** The decision table, as a pure function (exported for tests). */
export function diagnose(signals: {
  permission?: PermissionState;
  probes: PortProbe[];
  route: string;
  socketFailed?: boolean;
  tokenGiven?: boolean;
  framed?: boolean;
}): Failure | null;
/** The reason for a close code of an open session, or "". */
export function closeFailure(code: number): Reason | "";
/** The wait before retry attempt (0-based). */
export function backoffDelay(attempt: number, backoff?: Backoff, random?: () => number): number;
/** ports with remembered first, when it is one of them. */
export function orderPorts(ports: number[], remembered: number | null): number[];
/**
 * The port of this user's own bridge, as another user's bridge named it in
 * its 403 /health answer ({"error": "other-user", "your_port": N}), or null.
 */
export function discoveredPort(health: unknown): number | null;
/** ports with port first, added when missing. */
export function withPort(ports: number[], port: number | null): number[];
export function failure(reason: Reason, extra?: Partial<Failure>): Failure;
