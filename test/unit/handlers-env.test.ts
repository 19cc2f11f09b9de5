// The environment contract between lib/infra and the handlers (lib/config/env.ts).
import { describe, expect, it } from 'vitest';
import { deploymentFromEnv } from '../../lib/aws/deployment.js';
import {
  ENV,
  InvalidEnvError,
  MissingEnvError,
  requireEnv,
  requireJsonMapEnv,
  tableNamesFromEnv,
} from '../../lib/config/env.js';

describe('requireEnv', () => {
  it('returns the value, or fails naming the variable', () => {
    expect(requireEnv(ENV.EVENT_BUS_NAME, { [ENV.EVENT_BUS_NAME]: 'bus' })).toBe('bus');
    expect(() => requireEnv(ENV.EVENT_BUS_NAME, {})).toThrow(MissingEnvError);
    expect(() => requireEnv(ENV.EVENT_BUS_NAME, { [ENV.EVENT_BUS_NAME]: '' })).toThrow(/DAG_EVENT_BUS_NAME/);
  });

  it('reads JSON maps of strings', () => {
    expect(requireJsonMapEnv(ENV.WORK_QUEUES, { [ENV.WORK_QUEUES]: '{"work":"https://q"}' })).toEqual({
      work: 'https://q',
    });
    expect(() => requireJsonMapEnv(ENV.WORK_QUEUES, { [ENV.WORK_QUEUES]: '[]' })).toThrow(InvalidEnvError);
    expect(() => requireJsonMapEnv(ENV.WORK_QUEUES, { [ENV.WORK_QUEUES]: '{"a":1}' })).toThrow(
      /'a' is not a string/,
    );
  });
});

describe('tableNamesFromEnv', () => {
  it('reads the bound tables now and fails on any other one when it is used', () => {
    const names = tableNamesFromEnv(['events'], { [ENV.EVENTS_TABLE]: 'ev', [ENV.TASKS_TABLE]: 'ignored' });
    expect(names.events).toBe('ev');
    expect(() => names.tasks).toThrow(MissingEnvError);
    expect(() => tableNamesFromEnv(['traces'], {})).toThrow(/DAG_TRACES_TABLE/);
  });
});

describe('deploymentFromEnv', () => {
  it('fails fast on the first missing variable', () => {
    expect(() => deploymentFromEnv({ AWS_REGION: 'eu-west-1' })).toThrow(MissingEnvError);
  });
});
