/**
 * The model files this server knows (STRATA_MODELS), found by name when a dataset is created
 * and by sha256 when a dataset's model is needed again (extraction, similarImages). A file's
 * sha256 is computed once per (size, mtime), streaming.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';

export interface KnownModel {
  readonly name: string;
  readonly path: string;
}

export interface ResolvedModel extends KnownModel {
  readonly sha256: string;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class ModelRegistry {
  readonly #models: readonly KnownModel[];
  readonly #hashes = new Map<string, { key: string; sha: Promise<string> }>();

  constructor(models: readonly KnownModel[]) {
    this.#models = models;
  }

  get names(): string[] {
    return this.#models.map((model) => model.name);
  }

  /** sha256 of a model file, cached while its size and mtime stay the same. */
  async sha256(path: string): Promise<string> {
    const info = await stat(path);
    const key = `${info.size}:${info.mtimeMs}`;
    const cached = this.#hashes.get(path);
    if (cached && cached.key === key) return cached.sha;
    const sha = hashFile(path);
    this.#hashes.set(path, { key, sha });
    sha.catch(() => this.#hashes.delete(path));
    return sha;
  }

  /** A model by name (default: the first configured). Throws RangeError naming the known ones. */
  async byName(name?: string | null): Promise<ResolvedModel> {
    if (this.#models.length === 0) {
      throw new RangeError('this server knows no model files: set STRATA_MODELS (e.g. vgg16=/models/vgg16.onnx) where it runs');
    }
    const model = name ? this.#models.find((candidate) => candidate.name === name) : this.#models[0];
    if (!model) throw new RangeError(`unknown model "${name}"; this server has ${this.names.map((n) => `"${n}"`).join(', ')}`);
    const sha256 = await this.sha256(model.path).catch((error: NodeJS.ErrnoException) => {
      throw new Error(`model ${model.name} (${model.path}) cannot be read: ${error.message}`);
    });
    return { ...model, sha256 };
  }

  /** The configured model file with this sha256 (or `hint`, when it still has it), or null. */
  async bySha256(sha256: string, hint?: string | null): Promise<ResolvedModel | null> {
    const candidates: KnownModel[] = [];
    if (hint) candidates.push({ name: basename(hint).replace(/\.onnx$/i, ''), path: hint });
    candidates.push(...this.#models);
    for (const candidate of candidates) {
      const sha = await this.sha256(candidate.path).catch(() => null);
      if (sha === sha256) return { ...candidate, sha256 };
    }
    return null;
  }
}
