// The harness's own state (under the state folder): readable by its owner only. It names images,
// engines and projects on a shared CI agent; other users of the machine have no business there.
import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** `mkdir -p` with 0700 for the folders it makes, and the leaf narrowed to 0700 if it existed. */
export function mkdirPrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Writes `text` to `file` through a temporary file (readers never see half a file), mode 0600. */
export function writePrivateFile(file: string, text: string): void {
  mkdirPrivate(dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
