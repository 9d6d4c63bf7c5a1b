/**
 * Image sources on the server's disk are accepted only under the configured import roots
 * (STRATA_IMPORT_ROOTS) and the API's own upload folder. Paths are compared after resolving
 * symlinks, so neither `..` nor a link can lead outside; a folder is also searched for image
 * files that are links to elsewhere.
 */
import type { Dirent } from 'node:fs';
import { readdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';

export class ImportPathError extends Error {
  override readonly name = 'ImportPathError';
}

export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

export class ImportRoots {
  readonly #roots: readonly string[];
  #real: Promise<string[]> | undefined;

  constructor(roots: readonly string[]) {
    this.#roots = roots;
  }

  get configured(): readonly string[] {
    return this.#roots;
  }

  #realRoots(): Promise<string[]> {
    this.#real ??= Promise.all(this.#roots.map((root) => realpath(root).catch(() => null))).then((all) => all.filter((root): root is string => root !== null));
    return this.#real;
  }

  /** The real path of `path` when it lies under a root; otherwise an ImportPathError saying which roots there are. */
  async confine(path: string, extraRoots: readonly string[] = []): Promise<string> {
    if (!isAbsolute(path)) throw new ImportPathError(`source path must be absolute, got "${path}"`);
    const roots = [...(await this.#realRoots()), ...(await Promise.all(extraRoots.map((root) => realpath(root).catch(() => root))))];
    if (this.#roots.length === 0 && extraRoots.length === 0) {
      throw new ImportPathError('this server accepts no paths on its disk (STRATA_IMPORT_ROOTS is empty); upload the file to POST /uploads instead');
    }
    const real = await realpath(path).catch((error: NodeJS.ErrnoException) => {
      throw new ImportPathError(error.code === 'ENOENT' ? `no such file or folder: ${path}` : `cannot read ${path}: ${error.message}`);
    });
    if (!roots.some((root) => isInside(root, real))) {
      throw new ImportPathError(
        `${path}${real !== path ? ` (really ${real})` : ''} is outside the import roots; allowed: ${this.#roots.length ? this.#roots.join(', ') : '(none configured)'}`,
      );
    }
    return real;
  }

  /** Refuses a folder holding image links that lead outside it and outside every root. */
  async checkFolderLinks(folder: string): Promise<void> {
    const roots = [folder, ...(await this.#realRoots())];
    const walk = async (dir: string): Promise<void> => {
      const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isSymbolicLink()) {
          const target = await realpath(path).catch(() => null);
          if (target !== null && !roots.some((root) => isInside(root, target))) {
            throw new ImportPathError(`${path} is a link to ${target}, outside the import roots`);
          }
        }
      }
    };
    await walk(folder);
  }
}
