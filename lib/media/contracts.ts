import { z } from 'zod';
import { PRESET_NAMES } from './presets.js';

/*
 * The inputs and outputs of the media operators (functions/operators/media/*). Outputs of one
 * operator are inputs of the next (slice's segments -> transcode -> merge), so both sides live here.
 */

export class InvalidInputError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidInputError';
  }
}

const source = z.string().trim().min(1);
const index = z.number().int().nonnegative();
const preset = z.enum(PRESET_NAMES);

export const segmentSchema = z.object({
  uri: z.string().min(1),
  index,
  startSec: z.number().nonnegative(),
  durationSec: z.number().positive(),
});

export const transcodedPartSchema = z.object({
  uri: z.string().min(1),
  index,
  startSec: z.number().nonnegative().optional(),
  durationSec: z.number().positive(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});

export const probeInputSchema = z.object({ source });
export const sliceInputSchema = z.object({ source, seconds: z.number().positive().max(86_400) });
export const transcodeInputSchema = z.object({ segment: segmentSchema, preset: preset.optional() });
/** `null` parts (failures the parallel node tolerated) pass the schema so merge can name them. */
export const mergeInputSchema = z.object({ parts: z.array(transcodedPartSchema.nullable()).min(1) });
export const transcodeWholeInputSchema = z.object({ source, preset: preset.optional() });

export type Segment = z.infer<typeof segmentSchema>;
export type TranscodedPart = z.infer<typeof transcodedPartSchema>;

export interface ProbeResult {
  source: string;
  durationSec: number;
  width: number;
  height: number;
  videoCodec: string;
  audioCodec?: string;
  fps: number;
  bitRate: number;
  sizeBytes: number;
  keyframeIntervalSec?: number;
}

export interface SliceResult {
  source: string;
  segments: Segment[];
}

export interface MergeResult {
  uri: string;
  durationSec: number;
  width: number;
  height: number;
  sizeBytes: number;
}

export interface TranscodeResult {
  uri: string;
  durationSec: number;
  width: number;
  height: number;
}

/**
 * Parses an operator's input, or throws an `InvalidInputError` naming the operator and every bad
 * field: "media/slice: invalid input: seconds is missing (expected number)".
 */
export function parseOperatorInput<S extends z.ZodType>(
  operator: string,
  schema: S,
  input: unknown,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(describeIssue).join('; ');
  throw new InvalidInputError(`${operator}: invalid input: ${problems}`, { cause: result.error });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = formatPath(issue.path);
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) {
    return `${field} is missing (expected ${issue.expected})`;
  }
  return `${field}: ${issue.message}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'the input';
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

/**
 * A node without an `input` template receives `{ input, nodes }` (dag-spec §3): the task input one
 * level down. Operators that take the task's `source` accept both shapes; only this one fallback,
 * and only when `source` is absent at the top.
 */
export function taskInputOf(input: unknown): unknown {
  if (isRecord(input) && !('source' in input) && isRecord(input.input)) return input.input;
  return input;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
