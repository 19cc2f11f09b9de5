import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  eventIdOf,
  InvalidIdError,
  NODE_NAME_PATTERN,
  newTaskId,
  newTraceId,
  parseWorkId,
  segmentIdOf,
  segmentIdPrefixOf,
} from '../../lib/tracking/ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TASK = '0190a6b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b';

const nodeName = fc.stringMatching(NODE_NAME_PATTERN);
const order = fc.nat({ max: Number.MAX_SAFE_INTEGER });

describe('task and trace ids', () => {
  it('are UUIDv7', () => {
    expect(newTaskId()).toMatch(UUID_V7);
    expect(newTraceId()).toMatch(UUID_V7);
  });

  it('sort as strings in the order they were made, within one millisecond too', () => {
    const ids = Array.from({ length: 2000 }, () => newTraceId());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('event and segment ids', () => {
  it('follow the formulas of dag-spec §5', () => {
    const eventId = eventIdOf(TASK, 'transcode');
    expect(eventId).toBe(`${TASK}_transcode`);
    expect(segmentIdOf(eventId, 0)).toBe(`${TASK}_transcode_0`);
    expect(segmentIdOf(eventId, 12)).toBe(`${TASK}_transcode_12`);
  });

  it('refuse node names and orders that would make an ambiguous id', () => {
    expect(() => eventIdOf(TASK, 'has_underscore')).toThrow(InvalidIdError);
    expect(() => eventIdOf(TASK, '9starts-with-digit')).toThrow(InvalidIdError);
    expect(() => eventIdOf('task_1', 'probe')).toThrow(InvalidIdError);
    expect(() => segmentIdOf(`${TASK}_probe_1`, 0)).toThrow(InvalidIdError);
    expect(() => segmentIdOf(`${TASK}_probe`, -1)).toThrow(InvalidIdError);
    expect(() => segmentIdOf(`${TASK}_probe`, 1.5)).toThrow(InvalidIdError);
  });

  it("give a segment prefix that does not match a longer node's segments", () => {
    const prefix = segmentIdPrefixOf(eventIdOf(TASK, 'a'));
    expect(segmentIdOf(eventIdOf(TASK, 'a'), 3).startsWith(prefix)).toBe(true);
    expect(segmentIdOf(eventIdOf(TASK, 'a-b'), 3).startsWith(prefix)).toBe(false);
  });
});

describe('parseWorkId', () => {
  it('splits an event id back into task and node', () => {
    fc.assert(
      fc.property(fc.uuid(), nodeName, (taskId, node) => {
        expect(parseWorkId(eventIdOf(taskId, node))).toEqual({ taskId, node });
      }),
    );
  });

  it('splits a segment id back into task, node and order', () => {
    fc.assert(
      fc.property(fc.uuid(), nodeName, order, (taskId, node, index) => {
        expect(parseWorkId(segmentIdOf(eventIdOf(taskId, node), index))).toEqual({
          taskId,
          node,
          order: index,
        });
      }),
    );
  });

  it.each([
    ['empty', ''],
    ['no node', TASK],
    ['empty node', `${TASK}_`],
    ['empty task', '_probe'],
    ['node starting with a digit', `${TASK}_1probe`],
    ['node too long', `${TASK}_${'n'.repeat(65)}`],
    ['bad character in node', `${TASK}_pro.be`],
    ['empty order', `${TASK}_probe_`],
    ['leading zero', `${TASK}_probe_01`],
    ['negative order', `${TASK}_probe_-1`],
    ['fractional order', `${TASK}_probe_1.5`],
    ['order beyond safe integers', `${TASK}_probe_9999999999999999`],
    ['too many parts', `${TASK}_probe_1_2`],
    ['bad character in task', `task!_probe`],
  ])('is undefined for a malformed id (%s)', (_case, id) => {
    expect(parseWorkId(id)).toBeUndefined();
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.string(), (id) => {
        const parts = parseWorkId(id);
        if (parts !== undefined) {
          const eventId = eventIdOf(parts.taskId, parts.node);
          expect(parts.order === undefined ? eventId : segmentIdOf(eventId, parts.order)).toBe(id);
        }
      }),
    );
  });
});
