// Issue 22: the harness's state is its owner's only, and a state folder in /proc is refused at once.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { stateDir } from "../../harness/images/local-build.ts";
import { mkdirPrivate, writePrivateFile } from "../../harness/lib/private-files.ts";

const mode = (path: string) => statSync(path).mode & 0o777;

describe("state files", () => {
  it("are written 0600 in folders made 0700, whatever the umask", () => {
    const root = mkdtempSync(join(tmpdir(), "ep-state-"));
    const old = process.umask(0o022);
    try {
      const file = join(root, "state", "images.json");
      writePrivateFile(file, "{}\n");
      assert.equal(mode(file), 0o600);
      assert.equal(mode(join(root, "state")), 0o700);
      const open = join(root, "open");
      mkdirSync(open, { mode: 0o755 });
      mkdirPrivate(open);
      assert.equal(mode(open), 0o700);
    } finally {
      process.umask(old);
    }
  });

  it("refuses ENVOY_PIPELINE_STATE_DIR under /proc instead of spinning in mkdir", () => {
    assert.throws(() => stateDir("/repo", "/proc/1/x"), /ENVOY_PIPELINE_STATE_DIR: \/proc\/1\/x is in a kernel/);
    assert.equal(stateDir("/repo", "/tmp/x"), "/tmp/x");
  });
});
