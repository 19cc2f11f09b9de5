// The AWS SDK warns on Node 20 that its releases after January 2027 need Node 22. The CLI works on
// both, so that one notice is kept off the user's screen; every other warning prints as usual.
// Imported first by bin/dag.ts, before anything loads the SDK.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'NodeVersionSupportWarning')
    process.stderr.write(`${warning.name}: ${warning.message}\n`);
});
