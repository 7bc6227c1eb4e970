// Runs a shell command in a throwaway container of a stack's front-envoy image (the real Envoy
// binary of the stack), e.g. `envoy --mode validate` on a variant of the shipped config.
import type Dockerode from "dockerode";

export async function runInEnvoyImage(docker: Dockerode, image: string, cmd: string): Promise<{ code: number; out: string }> {
  const container = await docker.createContainer({ Image: image, Entrypoint: ["bash", "-c"], Cmd: [cmd], User: "root" });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = await container.logs({ stdout: true, stderr: true });
    return { code: StatusCode, out: logs.toString("utf8") };
  } finally {
    await container.remove({ force: true });
  }
}
