import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { engineHelp, engineProblems, isComposeV2, isDebianLike, parseOsRelease, type EngineState } from "../../harness/docker/probe.ts";
import { isStepLine } from "../../harness/images/build.ts";
import { Slots } from "../../harness/images/index.ts";

const ready: EngineState = {
  cli: true,
  server: "20.10.24+dfsg1",
  serverError: null,
  compose: "2.26.1-4",
  buildx: true,
  dockerd: true,
  debootstrap: true,
  root: true,
  debian: true,
};

describe("Docker engine checks", () => {
  it("find nothing wrong with a daemon and compose v2", () => {
    assert.deepEqual(engineProblems(ready), []);
  });

  it("recognise compose v2 version strings", () => {
    assert.equal(isComposeV2("2.26.1-4"), true);
    assert.equal(isComposeV2("v2.29.7"), true);
    assert.equal(isComposeV2("1.29.2"), false);
    assert.equal(isComposeV2(null), false);
  });

  it("read /etc/os-release", () => {
    const os = parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n');
    assert.equal(os.ID, "debian");
    assert.equal(os.PRETTY_NAME, "Debian GNU/Linux 12 (bookworm)");
    assert.equal(isDebianLike(os), true);
    assert.equal(isDebianLike(parseOsRelease("ID=ubuntu\nID_LIKE=debian\n")), true);
    assert.equal(isDebianLike(parseOsRelease('ID="fedora"\n')), false);
  });

  it("tell a non-root Debian user exactly what to install and start", () => {
    const state: EngineState = {
      ...ready,
      root: false,
      cli: false,
      dockerd: false,
      server: null,
      serverError: "docker: command not found",
      compose: null,
      buildx: false,
      debootstrap: false,
    };
    const text = engineHelp(state);
    assert.match(text, /^Docker is not ready for envoy-pipeline: the docker CLI is not installed\./);
    assert.match(text, /only as root on Debian \(not running as root\)/);
    assert.match(text, /sudo apt-get update && sudo apt-get install -y docker\.io debootstrap/);
    assert.match(text, /trixie's `docker-compose` and `docker-buildx`/);
  });

  it("tell a non-root user whose daemon is down how to start it", () => {
    const text = engineHelp({
      ...ready,
      root: false,
      server: null,
      serverError: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
    });
    assert.match(text, /the Docker daemon does not answer \(Cannot connect/);
    assert.match(text, /sudo systemctl start docker/);
    assert.match(text, /nohup dockerd >\/var\/log\/envoy-pipeline-dockerd\.log/);
    assert.doesNotMatch(text, /apt-get install -y docker\.io/);
  });

  it("point at the docker group when the socket is not accessible", () => {
    const text = engineHelp({
      ...ready,
      root: false,
      server: null,
      serverError: "permission denied while trying to connect to the Docker daemon socket",
    });
    assert.match(text, /usermod -aG docker/);
    assert.doesNotMatch(text, /systemctl start docker/);
  });

  it("give generic instructions off Debian", () => {
    const text = engineHelp({ ...ready, debian: false, compose: "1.29.2" });
    assert.match(text, /this host is not Debian/);
    assert.match(text, /`docker compose` is 1\.29\.2, not v2/);
    assert.match(text, /docker-compose-plugin/);
  });
});

describe("image builds", () => {
  it("show build steps of BuildKit and the classic builder", () => {
    assert.equal(isStepLine("#7 [2/3] RUN apt-get update"), true);
    assert.equal(isStepLine("#5 [unpack 2/4] ADD node.tgz /tmp/node/"), true);
    assert.equal(isStepLine("Step 2/9 : RUN groupadd"), true);
    assert.equal(isStepLine("#7 0.512 Get:1 http://deb.debian.org/debian bookworm InRelease"), false);
    assert.equal(isStepLine("#8 exporting layers"), false);
  });

  it("serve waiting builds by priority, at most N at once", async () => {
    const slots = new Slots(2);
    const order: string[] = [];
    let running = 0;
    let peak = 0;
    const job = (name: string, priority: number) =>
      slots.run(priority, async () => {
        order.push(name);
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r)); // the job yields while it holds a slot
        running--;
      });
    // All become ready in the same tick, lowest priority number first wins.
    await Promise.all([job("node", 3), job("envoy", 2), job("prometheus", 1), job("zipkin", 0)]);
    assert.deepEqual(order.slice(0, 2).sort(), ["prometheus", "zipkin"]);
    assert.deepEqual(order.slice(2), ["envoy", "node"]);
    assert.equal(peak, 2);
  });
});
