// Powertools Logger for every engine Lambda: JSON lines with the tracking ids (taskId, eventId,
// segmentId, traceId) as top-level keys, which the Logs Insights queries of the stack read.
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLine } from '../runtime/operator-runtime.js';

export function createLogger(serviceName?: string): Logger {
  return new Logger(serviceName === undefined ? {} : { serviceName });
}

/** The operator runtime's log line, written through the Logger (one line per attempt). */
export function runtimeLogLine(logger: Logger): LogLine {
  return (entry) => {
    const { level, message, ...fields } = entry;
    const text = typeof message === 'string' ? message : 'operator attempt';
    if (level === 'ERROR') logger.error(text, fields);
    else logger.info(text, fields);
  };
}

/** The ids of a work id's task, event and segment, as log keys. */
export function trackingKeys(ids: {
  taskId?: string;
  eventId?: string;
  segmentId?: string;
  traceId?: string;
}): Record<string, string> {
  return Object.fromEntries(Object.entries(ids).filter(([, value]) => value !== undefined)) as Record<
    string,
    string
  >;
}
