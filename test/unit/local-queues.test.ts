// LocalQueues as the SQS API of `dag serve` uses them: receipts, visibility timeouts, long polls.
import { describe, expect, it } from 'vitest';
import { InvalidReceiptHandleError, LocalQueues, MessageNotInFlightError } from '../../lib/local/bus.js';

describe('LocalQueues', () => {
  it('hides a received message until its visibility timeout ends, then hands it out again', () => {
    const queues = new LocalQueues();
    queues.send('work', { n: 1 });
    const [first] = queues.receive('work', { visibilityTimeoutSeconds: 10, now: 1_000 });
    expect(first).toMatchObject({ body: '{"n":1}', receiveCount: 1 });
    expect(queues.receive('work', { now: 5_000 })).toEqual([]);
    expect(queues.depth('work', 5_000)).toEqual({ visible: 0, inFlight: 1 });
    const [again] = queues.receive('work', { now: 11_000 });
    expect(again).toMatchObject({ messageId: first!.messageId, receiveCount: 2 });
    expect(again!.receiptHandle).not.toBe(first!.receiptHandle);
  });

  it('deletes by receipt; an outdated receipt deletes nothing and is no error', () => {
    const queues = new LocalQueues();
    queues.send('work', 'a');
    const [first] = queues.receive('work', { visibilityTimeoutSeconds: 1, now: 0 });
    const [second] = queues.receive('work', { now: 2_000 });
    expect(queues.delete('work', first!.receiptHandle)).toBe(false);
    expect(queues.delete('work', second!.receiptHandle)).toBe(true);
    expect(queues.receive('work', { now: 100_000 })).toEqual([]);
    expect(() => queues.delete('work', 'forged')).toThrow(InvalidReceiptHandleError);
  });

  it('changes visibility of a message in flight; 0 makes it visible at once', () => {
    const queues = new LocalQueues();
    queues.send('work', 'a');
    const [message] = queues.receive('work', { visibilityTimeoutSeconds: 30, now: 0 });
    queues.changeVisibility('work', message!.receiptHandle, 0, 1_000);
    const [back] = queues.receive('work', { now: 1_000 });
    expect(back?.messageId).toBe(message!.messageId);
    expect(() => queues.changeVisibility('work', message!.receiptHandle, 5, 1_000)).toThrow(
      MessageNotInFlightError,
    );
  });

  it('keeps send order when messages come back', () => {
    const queues = new LocalQueues();
    for (const body of ['a', 'b', 'c']) queues.send('work', body);
    queues.receive('work', { max: 1, visibilityTimeoutSeconds: 1, now: 0 });
    expect(queues.receive('work', { max: 10, now: 5_000 }).map((m) => m.body)).toEqual(['a', 'b', 'c']);
  });

  it('hands messages to a consumer instead, and wakes long polls on send', async () => {
    const queues = new LocalQueues();
    const waiting = queues.waitForMessages('pull', 5_000);
    queues.send('pull', 'x');
    await waiting;
    expect(queues.peek('pull')).toHaveLength(1);
    const consumed: string[] = [];
    queues.consume('push', (m) => consumed.push(m.body));
    queues.send('push', 'y');
    expect(consumed).toEqual(['y']);
    expect(queues.receive('push')).toEqual([]);
  });
});
