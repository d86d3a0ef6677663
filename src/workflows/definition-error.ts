/** One problem in one workflow or personas file, with what the author needs to fix it. */
export class WorkflowFileError extends Error {
  override name = 'WorkflowFileError';
  constructor(
    /** The file as found in the workflows folder, e.g. workflows/release-notes.yml. */
    readonly file: string,
    /** Where inside the file, in the file's own keys: "steps[1].persona"; '' for the whole file. */
    readonly path: string,
    message: string,
    /** 1-based line in the file, when known. */
    readonly line?: number | undefined,
  ) {
    super(message);
  }

  /** `workflows/release-notes.yml: steps[1].persona: unknown persona "markting" (known: …)` */
  override toString(): string {
    return this.path ? `${this.file}: ${this.path}: ${this.message}` : `${this.file}: ${this.message}`;
  }
}

/** Thrown at start when any workflow file has a problem: the app refuses to run half a config. */
export class WorkflowValidationError extends Error {
  override name = 'WorkflowValidationError';
  constructor(readonly errors: readonly WorkflowFileError[]) {
    const shown = errors.slice(0, 20).map((e) => `  - ${e.toString()}`);
    if (errors.length > shown.length) shown.push(`  … and ${errors.length - shown.length} more`);
    super(
      `${errors.length} problem${errors.length === 1 ? '' : 's'} in workflow files:\n${shown.join('\n')}\n` +
        'Fix them (`npm run workflow -- validate` lists them all) and start again.',
    );
  }
}
