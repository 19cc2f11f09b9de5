// The local stand-in for the S3 upload trigger (dag-spec §9): a file dropped into
// `<data>/uploads/<workflow>/` (at any depth) starts one task of that workflow with `{source: <path>}`,
// once per file version (path + mtime + size). Versions already started are kept in a ledger next to
// the uploads folder, so a restart does not start them again.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export interface UploadedFile {
  readonly workflow: string;
  /** Absolute path of the file. */
  readonly path: string;
  /** `<path>:<mtimeMs>:<size>`: one task per value. */
  readonly version: string;
}

/**
 * What to do with a new file version: `started` (recorded in the ledger), `skipped` (recorded too: the
 * version is not worth retrying, e.g. its input is refused), or `later` (not recorded: e.g. the
 * workflow is not registered yet, so the file is tried again after a registration or a restart).
 */
export type UploadOutcome = 'started' | 'skipped' | 'later';

export interface UploadWatcherOptions {
  readonly uploadsDir: string;
  /** An append-only list of the versions already handled, one per line. */
  readonly ledgerFile: string;
  readonly onUpload: (file: UploadedFile) => Promise<UploadOutcome>;
  readonly pollMs?: number;
  readonly log?: (line: string) => void;
}

const DEFAULT_POLL_MS = 500;

export class UploadWatcher {
  private readonly handled = new Set<string>();
  /** Versions seen in the last scan: a file is taken once two scans in a row see it unchanged. */
  private previousScan = new Set<string>();
  private readonly deferred = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;

  constructor(private readonly options: UploadWatcherOptions) {
    mkdirSync(options.uploadsDir, { recursive: true });
    if (existsSync(options.ledgerFile))
      for (const line of readFileSync(options.ledgerFile, 'utf8').split('\n'))
        if (line) this.handled.add(line);
  }

  start(): void {
    const tick = () => {
      this.scanning = this.scan()
        .catch((error) => this.options.log?.(`uploads: scan failed: ${(error as Error).message}`))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.options.pollMs ?? DEFAULT_POLL_MS);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.scanning;
  }

  /** Files deferred as `later` are tried again on the next scans (after a workflow is registered). */
  retryDeferred(): void {
    this.deferred.clear();
  }

  /** One pass over the uploads folder; exposed for tests. */
  async scan(): Promise<void> {
    const current = new Set<string>();
    for (const file of this.listFiles()) {
      current.add(file.version);
      if (this.handled.has(file.version) || this.deferred.has(file.version)) continue;
      // Seen once unchanged before: the writer is done with it (a copy in progress changes size/mtime).
      if (!this.previousScan.has(file.version)) continue;
      const outcome = await this.options.onUpload(file);
      if (outcome === 'later') this.deferred.add(file.version);
      else {
        this.handled.add(file.version);
        appendFileSync(this.options.ledgerFile, `${file.version}\n`);
      }
    }
    this.previousScan = current;
  }

  private listFiles(): UploadedFile[] {
    const files: UploadedFile[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name.startsWith('.')) continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile()) {
          const workflow = relative(this.options.uploadsDir, path).split(sep)[0];
          // Files straight under uploads/ belong to no workflow.
          if (workflow === undefined || workflow === entry.name) continue;
          let stats: ReturnType<typeof statSync>;
          try {
            stats = statSync(path);
          } catch {
            continue; // removed while walking
          }
          files.push({ workflow, path, version: `${path}:${stats.mtimeMs}:${stats.size}` });
        }
      }
    };
    walk(this.options.uploadsDir);
    return files;
  }
}
