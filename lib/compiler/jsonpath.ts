// Reference paths as ASL reads them. Dot form for plain names (dashes included: both Step Functions
// and the embedded engine read `$.nodes.my-node`), bracket-quoted form for anything else.

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function formatReferencePath(segments: readonly (string | number)[]): string {
  let path = '$';
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else if (PLAIN_NAME.test(segment)) path += `.${segment}`;
    else path += `['${segment.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
  }
  return path;
}
