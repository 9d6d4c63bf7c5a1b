/**
 * Downloads the pretrained VGG16 from the ONNX Model Zoo into a local cache (resumable,
 * verified), for users who do not bring their own model.
 *
 * Note on the weights: the zoo's vgg16-7 was converted from another framework (MXNet
 * Gluon), trained separately from torchvision's IMAGENET1K_V1 weights. Its activations are
 * genuine VGG16 features, but they are NOT bit-identical to the torchvision recipe. To get
 * exactly torchvision's numbers, export the model yourself, e.g.
 *
 *   import torch, torchvision
 *   m = torchvision.models.vgg16(weights="IMAGENET1K_V1").eval()
 *   torch.onnx.export(m.features, torch.zeros(1, 3, 224, 224), "vgg16.onnx",
 *                     input_names=["input"], output_names=["output"],
 *                     dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, opset_version=13)
 *
 * and pass it with --model (test/parity/export_vgg16.py does the same with random weights).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { extract } from 'tar';

/** Where a model archive comes from and what it must be. */
export interface ModelArchiveSource {
  readonly url: string;
  /** Lowercase hex SHA-256 of the archive. */
  readonly sha256: string;
  /** Size of the archive in bytes. */
  readonly size: number;
  /** File name of the archive in the cache. Default: the URL's last path segment. */
  readonly archiveName?: string;
  /** File name of the extracted model in the cache. Default: archive name with .onnx. */
  readonly modelName?: string;
}

/**
 * The ONNX Model Zoo's VGG16 (opset 7, with classifier), pinned to one commit; sha256 and
 * size are the Git LFS pointer's oid and size at that commit.
 */
export const VGG16_ZOO_ARCHIVE: ModelArchiveSource = Object.freeze({
  url: 'https://media.githubusercontent.com/media/onnx/models/2a67a85e670e61bf9819e9df6dae3771974552ff/validated/vision/classification/vgg/model/vgg16-7.tar.gz',
  sha256: '586413f9108e2316ebf80c3aa484d55f995d693b153e4c90742750519a9e27be',
  size: 512679010,
  archiveName: 'vgg16-7.tar.gz',
  modelName: 'vgg16-7.onnx',
});

export interface FetchProgress {
  readonly phase: 'download' | 'verify' | 'extract';
  /** Bytes done in this phase. */
  readonly bytes: number;
  readonly totalBytes: number;
}

export interface FetchPretrainedOptions {
  /** Default: defaultModelCacheDir(). */
  readonly cacheDir?: string;
  readonly onProgress?: (progress: FetchProgress) => void;
  /** Default: the global fetch. */
  readonly fetchImpl?: typeof fetch;
  /** Default: VGG16_ZOO_ARCHIVE (tests point this at a local server). */
  readonly source?: ModelArchiveSource;
  readonly signal?: AbortSignal;
}

/** Contents of the `<model>.json` file written next to a verified model. */
interface Sidecar {
  readonly sha256: string;
  readonly size: number;
  readonly from: string;
}

/** A download or verification failed; the message says how to install the model by hand. */
export class ModelDownloadError extends Error {
  override readonly name = 'ModelDownloadError';
}

/**
 * The model cache: $STRATA_CACHE_DIR/models, else $XDG_CACHE_HOME/strata/models, else
 * ~/.cache/strata/models. Apps should pass the environment they parsed.
 */
export function defaultModelCacheDir(env: Readonly<Record<string, string | undefined>> = process.env, home = homedir()): string {
  if (env.STRATA_CACHE_DIR) return join(env.STRATA_CACHE_DIR, 'models');
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'strata', 'models');
  return join(home, '.cache', 'strata', 'models');
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

async function hashFile(path: string, onBytes?: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    onBytes?.(bytes);
  }
  return hash.digest('hex');
}

async function readSidecar(path: string): Promise<Sidecar | undefined> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as Partial<Sidecar>;
    if (typeof value.sha256 === 'string' && typeof value.size === 'number') {
      return { sha256: value.sha256, size: value.size, from: String(value.from ?? '') };
    }
  } catch {
    // Missing or unreadable: treated as absent.
  }
  return undefined;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause && cause !== error.message ? `${error.message}: ${cause}` : error.message;
}

/**
 * Returns the path of the pretrained VGG16 ONNX file, downloading, verifying and extracting
 * it on first use. A later call returns at once (the cache keeps `<model>.json` with the
 * extracted file's sha256 and size). An interrupted download resumes from its `.part` file.
 * A model file placed in the cache by hand (without the .json) is accepted and recorded.
 */
export async function fetchPretrainedVgg16(options: FetchPretrainedOptions = {}): Promise<string> {
  const source = options.source ?? VGG16_ZOO_ARCHIVE;
  const cacheDir = options.cacheDir ?? defaultModelCacheDir();
  const fetchImpl = options.fetchImpl ?? fetch;
  const onProgress = options.onProgress;
  const archiveName = source.archiveName ?? basename(new URL(source.url).pathname);
  const modelName = source.modelName ?? `${archiveName.replace(/\.(tar\.gz|tgz|tar)$/, '')}.onnx`;
  const archivePath = join(cacheDir, archiveName);
  const partPath = `${archivePath}.part`;
  const modelPath = join(cacheDir, modelName);
  const sidecarPath = `${modelPath}.json`;

  const manual = (reason: string): ModelDownloadError =>
    new ModelDownloadError(
      `Could not get the pretrained VGG16 model: ${reason}.\n` +
        `To install it by hand, download\n  ${source.url}\n(${source.size} bytes, sha256 ${source.sha256}) and save it as\n  ${archivePath}\n` +
        `or extract the .onnx file inside it and save that as\n  ${modelPath}\nthen run again.`,
    );

  // 1. Already there?
  const modelSize = await sizeOf(modelPath);
  if (modelSize !== undefined) {
    const sidecar = await readSidecar(sidecarPath);
    if (sidecar && sidecar.size === modelSize) return modelPath;
    if (!sidecar) {
      // Placed by hand (or we stopped between extracting and writing the sidecar).
      const sha256 = await hashFile(modelPath, (bytes) => onProgress?.({ phase: 'verify', bytes, totalBytes: modelSize }));
      await writeFile(sidecarPath, JSON.stringify({ sha256, size: modelSize, from: 'placed in the cache by hand' }, null, 2));
      return modelPath;
    }
    // The file changed since it was verified: fetch it again.
    await rm(modelPath, { force: true });
    await rm(sidecarPath, { force: true });
  }
  await mkdir(cacheDir, { recursive: true });

  // 2. The archive, verified: placed by hand, left by an earlier run, or downloaded now.
  let archiveFrom = `${archivePath} (placed by hand)`;
  if ((await sizeOf(archivePath)) === undefined) {
    await download(source, partPath, fetchImpl, manual, options);
    await verify(partPath, source, manual, onProgress, 'downloaded');
    await rename(partPath, archivePath);
    archiveFrom = source.url;
  } else {
    await verify(archivePath, source, manual, onProgress, 'existing');
  }

  // 3. Extract the one .onnx file it holds.
  onProgress?.({ phase: 'extract', bytes: 0, totalBytes: source.size });
  const tmpDir = await mkdtemp(join(cacheDir, '.extract-'));
  try {
    const found: string[] = [];
    await extract({
      file: archivePath,
      cwd: tmpDir,
      filter: (path) => {
        const wanted = path.endsWith('.onnx');
        if (wanted) found.push(path);
        return wanted;
      },
    });
    if (found.length !== 1) {
      throw manual(`${archivePath} holds ${found.length} .onnx files (${found.join(', ') || 'none'}); expected exactly 1`);
    }
    const extracted = join(tmpDir, found[0] as string);
    const size = (await stat(extracted)).size;
    const sha256 = await hashFile(extracted);
    await rename(extracted, modelPath);
    const sidecar: Sidecar = { sha256, size, from: `${archiveFrom} (archive sha256 ${source.sha256}), entry ${found[0]}` };
    await writeFile(sidecarPath, JSON.stringify(sidecar, null, 2));
    onProgress?.({ phase: 'extract', bytes: source.size, totalBytes: source.size });
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
  await rm(archivePath, { force: true });
  return modelPath;
}

/** Checks size and sha256; a bad file is deleted, never kept as if valid. */
async function verify(
  path: string,
  source: ModelArchiveSource,
  manual: (reason: string) => ModelDownloadError,
  onProgress: FetchPretrainedOptions['onProgress'],
  what: string,
): Promise<void> {
  const size = await sizeOf(path);
  if (size !== source.size) {
    await rm(path, { force: true });
    throw manual(`the ${what} archive ${path} has ${size} bytes, expected ${source.size}; it was deleted`);
  }
  const sha256 = await hashFile(path, (bytes) => onProgress?.({ phase: 'verify', bytes, totalBytes: source.size }));
  if (sha256 !== source.sha256) {
    await rm(path, { force: true });
    throw manual(`the ${what} archive ${path} has sha256 ${sha256}, expected ${source.sha256}; it was deleted`);
  }
}

/** Downloads into `partPath`, continuing from what is already there (HTTP Range). */
async function download(
  source: ModelArchiveSource,
  partPath: string,
  fetchImpl: typeof fetch,
  manual: (reason: string) => ModelDownloadError,
  options: FetchPretrainedOptions,
  allowRestart = true,
): Promise<void> {
  let offset = (await sizeOf(partPath)) ?? 0;
  if (offset > source.size) {
    await rm(partPath, { force: true });
    offset = 0;
  }
  if (offset === source.size) return;

  let response: Response;
  try {
    response = await fetchImpl(source.url, {
      headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
      redirect: 'follow',
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw manual(`could not connect to ${new URL(source.url).host} (${describe(error)})`);
  }
  if (response.status === 416 && offset > 0 && allowRestart) {
    // The server does not accept our offset; start over.
    await response.body?.cancel();
    await rm(partPath, { force: true });
    return download(source, partPath, fetchImpl, manual, options, false);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw manual(`${source.url} answered HTTP ${response.status} ${response.statusText}`.trim());
  }
  // 206 continues the part file; 200 means the server ignored Range and sends everything.
  const append = response.status === 206 && (response.headers.get('content-range') ?? '').startsWith(`bytes ${offset}-`);
  let received = append ? offset : 0;
  const handle = await open(partPath, append ? 'a' : 'w');
  try {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (received + value.length > source.size) {
        await reader.cancel();
        throw new RangeError(`the server sent more than the expected ${source.size} bytes`);
      }
      await handle.write(value);
      received += value.length;
      options.onProgress?.({ phase: 'download', bytes: received, totalBytes: source.size });
    }
  } catch (error) {
    if (options.signal?.aborted) throw error;
    if (error instanceof RangeError) {
      await handle.close();
      await rm(partPath, { force: true });
      throw manual(`${describe(error)}; the partial file was deleted`);
    }
    throw manual(
      `the download stopped after ${received} of ${source.size} bytes (${describe(error)}); ` +
        `the partial file ${partPath} is kept and the next run resumes from it`,
    );
  } finally {
    await handle.close().catch(() => undefined);
  }
  if (received !== source.size) {
    // The response ended cleanly (a cut connection rejects read() above), so the server's
    // file is not the one we expect; resuming would not help.
    await rm(partPath, { force: true });
    throw manual(`the server's file has ${received} bytes, expected ${source.size}; the partial file was deleted`);
  }
}

/**
 * The path of the pretrained VGG16 if it is already in the cache (verified by an earlier
 * fetch or recorded after being placed by hand), without touching the network.
 */
export function cachedPretrainedVgg16(cacheDir = defaultModelCacheDir(), source: ModelArchiveSource = VGG16_ZOO_ARCHIVE): string | undefined {
  const archiveName = source.archiveName ?? basename(new URL(source.url).pathname);
  const modelPath = join(cacheDir, source.modelName ?? `${archiveName.replace(/\.(tar\.gz|tgz|tar)$/, '')}.onnx`);
  return existsSync(modelPath) && existsSync(`${modelPath}.json`) ? modelPath : undefined;
}
