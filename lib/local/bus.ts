// The embedded engine's stand-ins for EventBridge and SQS: in-process, observable, and used by the
// same callback nodes and async dispatch that use the real services on AWS.

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

/** Named FIFO-ish queues; consumers registered for a queue get each message once. */
export class LocalQueues {
  private readonly queues = new Map<string, QueueMessage[]>();
  private readonly consumers = new Map<string, (message: QueueMessage) => void>();
  private counter = 0;

  send(queue: string, body: unknown): QueueMessage {
    const message: QueueMessage = {
      messageId: `local-${++this.counter}`,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      sentAt: new Date().toISOString(),
    };
    const consumer = this.consumers.get(queue);
    if (consumer) consumer(message);
    else this.messagesOf(queue).push(message);
    return message;
  }

  /** Delivers waiting and future messages of `queue` to `consumer`. */
  consume(queue: string, consumer: (message: QueueMessage) => void): void {
    this.consumers.set(queue, consumer);
    const waiting = this.messagesOf(queue).splice(0);
    for (const message of waiting) consumer(message);
  }

  /** Takes up to `max` messages (for pull consumers such as the SQS API of `dag serve`). */
  receive(queue: string, max = 10): QueueMessage[] {
    return this.messagesOf(queue).splice(0, max);
  }

  peek(queue: string): readonly QueueMessage[] {
    return this.messagesOf(queue);
  }

  private messagesOf(queue: string): QueueMessage[] {
    let list = this.queues.get(queue);
    if (!list) {
      list = [];
      this.queues.set(queue, list);
    }
    return list;
  }
}

/** The queue name at the end of an SQS queue URL. */
export function queueNameOfUrl(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}
