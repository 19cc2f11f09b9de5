// ffmpeg and ffprobe for the media and analysis operators, as a Lambda layer of the npm packages that
// ship them (@ffmpeg-installer/linux-x64, @ffprobe-installer/linux-x64, ~140 MB unzipped).
//
// Why a layer rather than copying the binaries into each bundle (commandHooks/nodeModules): the
// binaries are uploaded once for every function that uses them instead of once per function, and
// `nodeModules` would run `npm install` at synth, which needs the registry (synth must work offline).
// The installer packages stay external to the bundles and resolve from the layer through NODE_PATH
// (/opt/nodejs/node_modules), which is why those bundles are CommonJS: an ES module import does not
// search NODE_PATH. The binaries are x86-64, so the functions using the layer are too.
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { PROJECT_ROOT } from './project.js';

/** The packages the layer carries: each installer and its linux-x64 binary package. */
export const FFMPEG_PACKAGES = [
  '@ffmpeg-installer/ffmpeg',
  '@ffmpeg-installer/linux-x64',
  '@ffprobe-installer/ffprobe',
  '@ffprobe-installer/linux-x64',
] as const;

/** Bundles that use the layer leave these to it. */
export const FFMPEG_EXTERNALS = ['@ffmpeg-installer/*', '@ffprobe-installer/*'];

export class FfmpegLayer extends Construct {
  readonly layer: lambda.LayerVersion;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const nodeModules = join(PROJECT_ROOT, 'node_modules');
    const versions = FFMPEG_PACKAGES.map(
      (name) => `${name}@${packageVersion(nodeModules, name) ?? 'missing'}`,
    );
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      description: `ffmpeg and ffprobe from npm: ${versions.join(', ')}`,
      compatibleArchitectures: [lambda.Architecture.X86_64],
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X],
      code: lambda.Code.fromAsset(nodeModules, {
        // The package versions name the content: hashing 140 MB of binaries on every synth is waste.
        assetHash: versions.join(','),
        bundling: {
          // Used only where the linux-x64 packages are not installed (npm installs the host's own).
          image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-bookworm-slim'),
          command: [
            'bash',
            '-c',
            `mkdir -p /asset-output/nodejs && cd /asset-output/nodejs && npm install --no-save --no-package-lock --os=linux --cpu=x64 ${versions.filter((v) => !v.endsWith('@missing')).join(' ')}`,
          ],
          local: {
            tryBundle(outputDir: string): boolean {
              if (!FFMPEG_PACKAGES.every((name) => existsSync(join(nodeModules, name, 'package.json'))))
                return false;
              for (const name of FFMPEG_PACKAGES) {
                const target = join(outputDir, 'nodejs', 'node_modules', name);
                mkdirSync(target, { recursive: true });
                // Copies keep the executable bit of the binaries.
                cpSync(join(nodeModules, name), target, { recursive: true });
              }
              return true;
            },
          },
        },
      }),
    });
  }
}

function packageVersion(nodeModules: string, name: string): string | undefined {
  const file = join(nodeModules, name, 'package.json');
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
}
