// X-Hub-Signature-256 verification with @octokit/webhooks, one `Webhooks` instance per secret so
// that several secrets can be accepted while one is being rotated.
//
// Why not `verifyAndReceive` (which takes `additionalSecrets`)? It reports a bad signature and a
// body that is not JSON the same way (an AggregateError with status 400), and we must answer 401 to
// the first and 400 to the second. `Webhooks#verify` answers exactly the question we ask.
import { createHmac, timingSafeEqual } from "node:crypto";
import { Webhooks } from "@octokit/webhooks";

export const SIGNATURE_HEADER = "x-hub-signature-256";

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

const signatureFormat = /^sha256=[0-9a-f]{64}$/;

/** GitHub's signature of `body`: `sha256=` + hex HMAC-SHA256 of the raw bytes. */
export function signBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Decodes UTF-8 strictly and keeps a leading BOM, so that the string re-encodes to the same bytes. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class SignatureVerifier {
  readonly #secrets: readonly string[];
  readonly #webhooks: readonly Webhooks[];

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0 || secrets.some((s) => s === "")) {
      throw new Error("SignatureVerifier: at least one non-empty secret is required");
    }
    this.#secrets = [...secrets];
    this.#webhooks = secrets.map((secret) => new Webhooks({ secret }));
  }

  get secretCount(): number {
    return this.#secrets.length;
  }

  /** Checks `header` (the X-Hub-Signature-256 value) against the raw request body. */
  async verify(body: Buffer, header: string | string[] | undefined, legacySha1?: string | string[]): Promise<SignatureCheck> {
    if (header === undefined) {
      return {
        ok: false,
        reason:
          legacySha1 !== undefined
            ? "only X-Hub-Signature (SHA-1) was sent; X-Hub-Signature-256 is required"
            : "missing X-Hub-Signature-256 header",
      };
    }
    if (Array.isArray(header)) return { ok: false, reason: "several X-Hub-Signature-256 headers" };
    if (!signatureFormat.test(header)) {
      return { ok: false, reason: "X-Hub-Signature-256 is not of the form sha256=<64 lower-case hex digits>" };
    }
    // Octokit verifies a string (it re-encodes it as UTF-8). That is lossless for a non-empty,
    // valid UTF-8 body; for anything else we compute the HMAC over the raw bytes ourselves.
    let text: string | undefined;
    if (body.length > 0) {
      try {
        text = strictUtf8.decode(body);
      } catch {
        text = undefined;
      }
    }
    for (let i = 0; i < this.#secrets.length; i++) {
      let match: boolean;
      if (text !== undefined) {
        match = await (this.#webhooks[i] as Webhooks).verify(text, header).catch(() => false);
      } else {
        const expected = Buffer.from(signBody(this.#secrets[i] as string, body));
        const given = Buffer.from(header);
        match = expected.length === given.length && timingSafeEqual(expected, given);
      }
      if (match) return { ok: true };
    }
    return {
      ok: false,
      reason: `X-Hub-Signature-256 does not match the body for the configured secret${this.#secrets.length > 1 ? "s" : ""}`,
    };
  }
}
