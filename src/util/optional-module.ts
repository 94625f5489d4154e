/**
 * An optional npm dependency (package.json optionalDependencies: `npm install --omit=optional`
 * leaves it out), imported once: where it is missing, only what uses it fails, with a typed error
 * naming the package, not every module that imports the user.
 */
import { KmemError } from './errors.ts';

/** A run needs an optional npm package that is not installed. */
export class MissingOptionalPackageError extends KmemError {
  override name = 'MissingOptionalPackageError';
  constructor(packageName: string, forWhat: string, cause: string) {
    super(`${forWhat} needs the optional package ${packageName}, which is not installed (${cause}); expected it installed: npm install without --omit=optional`);
  }
}

export class OptionalModule<T> {
  private constructor(
    readonly packageName: string,
    private readonly module: T | null,
    private readonly cause: string,
  ) {}

  /** Imports `packageName` through `load` (a literal `import('…')`, so that bundlers see it); never rejects. */
  static async load<T>(packageName: string, load: () => Promise<T>): Promise<OptionalModule<T>> {
    try {
      return new OptionalModule(packageName, await load(), '');
    } catch (error) {
      return new OptionalModule<T>(packageName, null, error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error));
    }
  }

  /** The module, or a MissingOptionalPackageError saying what `forWhat` needed it for. */
  get(forWhat: string): T {
    if (this.module === null) throw new MissingOptionalPackageError(this.packageName, forWhat, this.cause);
    return this.module;
  }
}
