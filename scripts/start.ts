// `npm start`: the main job on the embedded engine. Makes a sample video on first run (ffmpeg's test
// sources, 40 s so the router takes the sliced path), runs workflows/slice-transcode.yaml on it, and
// names the output video.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../bin/dag.js';
import { ensureSampleVideo } from '../lib/media/sample.js';

const sample = resolve('.data', 'sample', 'sample-40s.mp4');
mkdirSync(resolve('.data', 'sample'), { recursive: true });
await ensureSampleVideo(sample, { seconds: 40, width: 640, height: 360 });

let output = '';
const code = await main(
  ['run', 'workflows/slice-transcode.yaml', '--input', JSON.stringify({ source: sample }), '--json'],
  {
    stdout: (line) => {
      output += line;
    },
    stderr: (line) => process.stderr.write(`${line}\n`),
  },
);
if (code === 0) {
  const result = JSON.parse(output) as {
    taskId: string;
    output: { merge?: { uri: string; durationSec: number } };
  };
  const merged = result.output.merge;
  process.stdout.write(`task ${result.taskId} SUCCEEDED\n`);
  if (merged)
    process.stdout.write(
      `output video: ${fileURLToPath(merged.uri)} (${merged.durationSec.toFixed(2)} s; source ${sample})\n`,
    );
} else {
  process.stderr.write(output ? `${output}\n` : '');
}
process.exitCode = code;
