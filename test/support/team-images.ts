// Third-party HTTP servers for the team-stack tests (test/fixtures/team-servers/), built from the
// package registries on the project's Debian base, tagged by the hash of their inputs like the
// stack's own local images (harness/images): built once, then found by `docker image inspect`.
import { cpSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planBase } from "../../harness/images/base.ts";
import { dockerBuild } from "../../harness/images/build.ts";
import { folderDigest, inputHash, localTag } from "../../harness/images/hash.ts";
import { HOST_CA_BUNDLE, inspectImage, prepareImages } from "../../harness/images/index.ts";
import { repoRoot } from "../../harness/lib/paths.ts";

export type TeamServer = "httpbin" | "nginx";

export async function teamServerImage(name: TeamServer, log: (line: string) => void = () => undefined): Promise<string> {
  await prepareImages({ log });
  const base = planBase(join(repoRoot, "images"));
  const dir = join(repoRoot, "test", "fixtures", "team-servers", name);
  // The host's CA bundle goes in too: where TLS to PyPI is intercepted, pip must trust that CA.
  const hostCa = existsSync(HOST_CA_BUNDLE) ? readFileSync(HOST_CA_BUNDLE) : Buffer.alloc(0);
  const hash = inputHash({ image: `test-${name}`, base: base.hash, files: folderDigest(dir), hostCa: hostCa.toString("base64") });
  const tag = localTag(`test-${name}`, "team", hash);
  if ((await inspectImage(tag)) !== null) return tag;
  const work = mkdtempSync(join(tmpdir(), "ep-team-image-"));
  const context = join(work, "context");
  cpSync(dir, context, { recursive: true });
  cpSync(existsSync(HOST_CA_BUNDLE) ? HOST_CA_BUNDLE : "/dev/null", join(context, "host-ca.crt"));
  const logsDir = join(work, "logs");
  await dockerBuild({ name: `test-${name}`, tag, hash, contextDir: context, buildArgs: { BASE_IMAGE: base.tag }, logsDir }, log);
  return tag;
}
