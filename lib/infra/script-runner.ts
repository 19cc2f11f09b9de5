// The script Lambda of `script` nodes (dag-spec §2): JSONata and sandboxed JavaScript in the sandbox
// processes of lib/runtime/script.ts. The sandbox is a second program (script-worker.mjs) that the
// handler forks, with QuickJS's WebAssembly beside it: both go into the bundle after esbuild built the
// handler. ESM, because the handler finds the worker next to itself through import.meta.url.
// Scripts take and give large payloads (lib/runtime/payloads.ts) as operators do: the object root in
// the environment, objects under it read and written.
import { Duration } from 'aws-cdk-lib';
import type { ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV } from '../config/env.js';
import { EngineFunction } from './engine-function.js';
import { grantObjectRead, grantObjectWrite } from './grants.js';
import { OBJECTS_PREFIX } from './operator-catalog.js';
import { handlerEntry } from './project.js';
import type { TrackingTables } from './tracking-tables.js';

export interface ScriptRunnerProps {
  readonly tables: TrackingTables;
  /** The engine's bucket: payloads live under its object root, `s3://<bucket>/objects`. */
  readonly bucket: s3.IBucket;
}

/** The QuickJS build the worker loads (RELEASE_SYNC), as a file next to the bundled worker. */
const QUICKJS_WASM = 'node_modules/@jitl/quickjs-wasmfile-release-sync/dist/emscripten-module.wasm';

/** After esbuild built the handler: the sandbox worker, bundled on its own, and the QuickJS build. */
export const SCRIPT_SANDBOX_HOOKS: ICommandHooks = {
  beforeBundling: () => [],
  beforeInstall: () => [],
  afterBundling: (inputDir: string, outputDir: string) => [
    `"${inputDir}/node_modules/.bin/esbuild" "${inputDir}/lib/runtime/script-worker.mjs" --bundle --platform=node --format=esm --target=node22 --log-level=warning --outfile="${outputDir}/script-worker.mjs"`,
    `cp "${inputDir}/${QUICKJS_WASM}" "${outputDir}/emscripten-module.wasm"`,
  ],
};

export class ScriptRunner extends Construct {
  readonly function: EngineFunction;

  constructor(scope: Construct, id: string, props: ScriptRunnerProps) {
    super(scope, id);
    this.function = new EngineFunction(this, 'Script', {
      entry: handlerEntry('script'),
      description: 'Runs script nodes (jsonata, sandboxed javascript)',
      serviceName: 'script',
      // Each sandbox process takes its own heap: room for the pool and the scripts' 64 MiB each.
      memorySize: 1024,
      // A script's limit is at most 900 s (the schema's), plus the Task's start-up margin.
      timeout: Duration.minutes(15),
      commandHooks: SCRIPT_SANDBOX_HOOKS,
      environment: { [ENV.OBJECT_ROOT]: `s3://${props.bucket.bucketName}/${OBJECTS_PREFIX}` },
    });
    this.function
      .bindTable(props.tables.events, ENV.EVENTS_TABLE, 'rw')
      .bindTable(props.tables.segments, ENV.SEGMENTS_TABLE, 'rw')
      .bindTable(props.tables.traces, ENV.TRACES_TABLE, 'rw');
    // Only payloads, never sources: reads are confined to the object root too.
    grantObjectRead(props.bucket, this.function.role, `${OBJECTS_PREFIX}/`);
    grantObjectWrite(props.bucket, this.function.role, `${OBJECTS_PREFIX}/`);
  }
}
