/** Files the pipeline writes for people and later runs: whole or not at all. */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** Writes `text` through a temp file and a rename, so a crash never leaves half a file. */
export async function writeAtomic(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** `value` as indented JSON, written atomically. */
export const writeJsonAtomic = (file: string, value: unknown): Promise<void> =>
  writeAtomic(file, `${JSON.stringify(value, null, 2)}\n`);

/** Lets `make(tmp)` write `file` through a temp path, renamed into place only when it succeeds. */
export async function produceAtomic(
  file: string,
  make: (tmp: string) => Promise<void>,
): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.partial`;
  try {
    await make(tmp);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
