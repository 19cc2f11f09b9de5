// Which Lambda runtime an operator needs on AWS. Operators of the media and analysis namespaces run
// ffmpeg: x86_64 with the ffmpeg layer, more memory, disk and time; the others run on arm64. The
// operator catalog (lib/infra) deploys them so, and the compiler fuses a chain of sync nodes into one
// Task only when all of its operators share a group: the chain runs in one function of that group.
export type OperatorGroup = 'ffmpeg' | 'standard';

export const FFMPEG_NAMESPACES: readonly string[] = ['media', 'analysis'];

export function operatorGroupOf(operator: string): OperatorGroup {
  return FFMPEG_NAMESPACES.some((namespace) => operator.startsWith(`${namespace}/`)) ? 'ffmpeg' : 'standard';
}

/** The longest a Lambda runs (15 min): a fused chain's time limits together stay within it. */
export const LAMBDA_MAX_SECONDS = 900;
