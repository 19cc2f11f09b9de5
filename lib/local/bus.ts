// The embedded engine's stand-ins for EventBridge and SQS: in-process, observable, and used by the
// same callback nodes and async dispatch that use the real services on AWS.
import { randomBytes } from 'node:crypto';

export interface BusEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: unknown;
  readonly bus: string;
  readonly time: string;
}

export class LocalBus {
  readonly events: BusEvent[] = [];
  private readonly listeners = new Set<(event: BusEvent) => void>();

  put(event: Omit<BusEvent, 'time'>): void {
    const full = { ...event, time: new Date().toISOString() };
    this.events.push(full);
    for (const listener of this.listeners) listener(full);
  }

  subscribe(listener: (event: BusEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export interface QueueMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: string;
}

/** A message handed to a pull consumer: hidden until deleted or until its visibility timeout ends. */
export interface ReceivedMessage extends QueueMessage {
  /** Names this receipt only: a later receive of the same message gets a new one. */
  readonly receiptHandle: string;
  /** How many times the message has been received, this time included. */
  readonly receiveCount: number;
}

export interface ReceiveOptions {
  /** At most this many messages (1 to 10, as SQS). */
  readonly max?: number;
  /** How long received messages stay hidden; SQS's default is 30 s. */
  readonly visibilityTimeoutSeconds?: number;
  readonly now?: number;
}

/** SQS's default visibility timeout. */
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30;

interface StoredMessage extends QueueMessage {
  /** Send order, so that messages whose visibility ends go back to their place. */
  readonly seq: number;
  receiveCount: number;
}

interface InFlight {
  readonly message: StoredMessage;
  visibleAt: number;
}

interface QueueState {
  readonly available: StoredMessage[];
  readonly inFlight: Map<string, InFlight>;
  readonly wakers: Set<() => void>;
}

/** A receipt handle that this process could not have handed out (SQS: ReceiptHandleIsInvalid). */
export class InvalidReceiptHandleError extends Error {
  constructor(readonly receiptHandle: string) {
    super(`'${receiptHandle}' is not a receipt handle of this queue.`);
    this.name = 'InvalidReceiptHandleError';
  }
}

/** ChangeMessageVisibility on a message that is not hidden (SQS: MessageNotInflight). */
export class MessageNotInFlightError extends Error {
  constructor(readonly receiptHandle: string) {
    super(`The message of receipt '${receiptHandle}' is not in flight.`);
    this.name = 'MessageNotInFlightError';
  }
}

const RECEIPT_PATTERN = /^r-[A-Za-z0-9_-]{32}$/;

/**
 * Named queues. A queue with a consumer (an operator the engine runs) hands it each message once;
 * otherwise messages wait for pull consumers, which receive them with a receipt handle and a visibility
 * timeout as on SQS: a message that is not deleted in time comes back.
 */
export class LocalQueues {
  private readonly queues = new Map<string, QueueState>();
  private readonly consumers = new Map<string, (message: QueueMessage) => void>();
  private counter = 0;

  send(queue: string, body: unknown): QueueMessage {
    const seq = ++this.counter;
    const message: StoredMessage = {
      messageId: `local-${seq}`,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      sentAt: new Date().toISOString(),
      seq,
      receiveCount: 0,
    };
    const consumer = this.consumers.get(queue);
    if (consumer) {
      consumer(publicMessage(message));
      return publicMessage(message);
    }
    const state = this.stateOf(queue);
    state.available.push(message);
    wake(state);
    return publicMessage(message);
  }

  /** Delivers waiting and future messages of `queue` to `consumer`. */
  consume(queue: string, consumer: (message: QueueMessage) => void): void {
    this.consumers.set(queue, consumer);
    const waiting = this.stateOf(queue).available.splice(0);
    for (const message of waiting) consumer(publicMessage(message));
  }

  /** Creates `queue` if it does not exist yet, so that it can be named before anything is sent to it. */
  declare(queue: string): void {
    this.stateOf(queue);
  }

  has(queue: string): boolean {
    return this.queues.has(queue);
  }

  names(): string[] {
    return [...this.queues.keys()].sort();
  }

  /** Takes up to `max` visible messages and hides them for the visibility timeout. */
  receive(queue: string, options: ReceiveOptions = {}): ReceivedMessage[] {
    const now = options.now ?? Date.now();
    const state = this.stateOf(queue);
    this.restoreExpired(state, now);
    const max = Math.min(Math.max(options.max ?? 1, 1), 10);
    const hiddenFor = (options.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS) * 1000;
    return state.available.splice(0, max).map((message) => {
      message.receiveCount++;
      const receiptHandle = `r-${randomBytes(24).toString('base64url')}`;
      state.inFlight.set(receiptHandle, { message, visibleAt: now + hiddenFor });
      return { ...publicMessage(message), receiptHandle, receiveCount: message.receiveCount };
    });
  }

  /**
   * Resolves when `queue` may have a visible message (one was sent, or a visibility timeout ended),
   * after `ms` at most, or when `signal` aborts.
   */
  async waitForMessages(queue: string, ms: number, signal?: AbortSignal): Promise<void> {
    const state = this.stateOf(queue);
    const now = Date.now();
    this.restoreExpired(state, now);
    if (state.available.length > 0 || ms <= 0 || signal?.aborted) return;
    const nextVisible = Math.min(...[...state.inFlight.values()].map((f) => f.visibleAt));
    const wait = Math.max(0, Math.min(ms, nextVisible - now));
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        state.wakers.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      state.wakers.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Deletes the message of a receipt. A well-formed receipt that names nothing (the message was
   * deleted, or received again since) deletes nothing and is no error, as on SQS.
   */
  delete(queue: string, receiptHandle: string): boolean {
    if (!RECEIPT_PATTERN.test(receiptHandle)) throw new InvalidReceiptHandleError(receiptHandle);
    return this.stateOf(queue).inFlight.delete(receiptHandle);
  }

  /** Hides the message of a receipt for `seconds` from now (0: visible again at once). */
  changeVisibility(queue: string, receiptHandle: string, seconds: number, now = Date.now()): void {
    if (!RECEIPT_PATTERN.test(receiptHandle)) throw new InvalidReceiptHandleError(receiptHandle);
    const state = this.stateOf(queue);
    this.restoreExpired(state, now);
    const inFlight = state.inFlight.get(receiptHandle);
    if (!inFlight) throw new MessageNotInFlightError(receiptHandle);
    inFlight.visibleAt = now + seconds * 1000;
    if (seconds === 0) {
      this.restoreExpired(state, now);
      wake(state);
    }
  }

  /** The visible messages of `queue`, oldest first. */
  peek(queue: string): readonly QueueMessage[] {
    const state = this.stateOf(queue);
    this.restoreExpired(state, Date.now());
    return state.available.map(publicMessage);
  }

  /** How many messages are visible and how many are hidden (received, not deleted). */
  depth(queue: string, now = Date.now()): { visible: number; inFlight: number } {
    const state = this.stateOf(queue);
    this.restoreExpired(state, now);
    return { visible: state.available.length, inFlight: state.inFlight.size };
  }

  private restoreExpired(state: QueueState, now: number): void {
    let restored = false;
    for (const [receipt, inFlight] of state.inFlight) {
      if (inFlight.visibleAt > now) continue;
      state.inFlight.delete(receipt);
      state.available.push(inFlight.message);
      restored = true;
    }
    if (restored) state.available.sort((a, b) => a.seq - b.seq);
  }

  private stateOf(queue: string): QueueState {
    let state = this.queues.get(queue);
    if (!state) {
      state = { available: [], inFlight: new Map(), wakers: new Set() };
      this.queues.set(queue, state);
    }
    return state;
  }
}

function publicMessage(message: StoredMessage): QueueMessage {
  return { messageId: message.messageId, body: message.body, sentAt: message.sentAt };
}

function wake(state: QueueState): void {
  for (const waker of [...state.wakers]) waker();
}

/** The queue name at the end of an SQS queue URL. */
export function queueNameOfUrl(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}
