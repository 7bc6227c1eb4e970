// X-Hub-Signature-256 verification, streamed.
// Design notes: docs/webhook.md ("webhook/signature.ts").
import { type Hmac, createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-hub-signature-256";

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

const signatureFormat = /^sha256=[0-9a-f]{64}$/;

/** GitHub's signature of `body`: `sha256=` + hex HMAC-SHA256 of the raw bytes. */
export function signBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** The header's form alone: missing, repeated, SHA-1 only, or not `sha256=<64 hex>`. */
export function checkSignatureHeader(header: string | string[] | undefined, legacySha1?: string | string[]): SignatureCheck {
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
  return { ok: true };
}

/** The HMACs of one body, fed chunk by chunk. */
export class StreamingSignature {
  readonly #header: string;
  readonly #hmacs: Hmac[];
  readonly #plural: boolean;

  constructor(secrets: readonly string[], header: string) {
    this.#header = header;
    this.#hmacs = secrets.map((secret) => createHmac("sha256", secret));
    this.#plural = secrets.length > 1;
  }

  update(chunk: Uint8Array): void {
    for (const hmac of this.#hmacs) hmac.update(chunk);
  }

  /** Compares every secret's digest with the header (each in constant time). Call once. */
  finish(): SignatureCheck {
    const given = Buffer.from(this.#header.slice("sha256=".length), "hex");
    let match = false;
    for (const hmac of this.#hmacs) {
      const expected = hmac.digest();
      if (expected.length === given.length && timingSafeEqual(expected, given)) match = true;
    }
    if (match) return { ok: true };
    return { ok: false, reason: `X-Hub-Signature-256 does not match the body for the configured secret${this.#plural ? "s" : ""}` };
  }
}

export class SignatureVerifier {
  readonly #secrets: readonly string[];

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0 || secrets.some((s) => s === "")) {
      throw new Error("SignatureVerifier: at least one non-empty secret is required");
    }
    this.#secrets = [...secrets];
  }

  get secretCount(): number {
    return this.#secrets.length;
  }

  /** Checks the header's form and, when it is well formed, starts the HMACs of the body to come. */
  begin(
    header: string | string[] | undefined,
    legacySha1?: string | string[],
  ): { ok: true; body: StreamingSignature } | { ok: false; reason: string } {
    const form = checkSignatureHeader(header, legacySha1);
    if (!form.ok) return form;
    return { ok: true, body: new StreamingSignature(this.#secrets, header as string) };
  }

  /** Checks `header` (the X-Hub-Signature-256 value) against a whole body. */
  async verify(body: Buffer, header: string | string[] | undefined, legacySha1?: string | string[]): Promise<SignatureCheck> {
    const started = this.begin(header, legacySha1);
    if (!started.ok) return started;
    started.body.update(body);
    return started.body.finish();
  }
}
