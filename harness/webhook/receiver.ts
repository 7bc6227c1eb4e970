// One delivery, from raw request to answer.
// Design notes: docs/webhook.md ("webhook/receiver.ts").
import type { IncomingHttpHeaders } from "node:http";
import { errorMessage } from "../lib/errors.ts";
import { type DeliveryFilters, classify, decodePayload, parseDeliveryHeaders } from "./events.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { printable } from "../lib/printable.ts";
import { RefusalLog } from "./refusals.ts";
import type { Scheduler } from "./scheduler.ts";
import { SIGNATURE_HEADER, type SignatureVerifier, type StreamingSignature } from "./signature.ts";
import type { DeliveryStore } from "./store.ts";

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** Whether to read the body: refused (answer now, unread), or the signature to feed the body to. */
export type Admission = { readonly refused: Answer } | { readonly refused?: undefined; readonly signature: StreamingSignature };

export interface ReceiverOptions {
  readonly verifier: SignatureVerifier;
  readonly store: DeliveryStore;
  readonly scheduler: Scheduler;
  readonly filters: DeliveryFilters;
  readonly log?: Logger;
  /** How refusals (401, 503) are logged; default one line per minute at most, with counts. */
  readonly refusals?: RefusalLog;
}

export class Receiver {
  readonly #options: ReceiverOptions;
  readonly #log: Logger;
  readonly refusals: RefusalLog;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(options: ReceiverOptions) {
    this.#options = options;
    this.#log = options.log ?? silentLogger;
    this.refusals = options.refusals ?? new RefusalLog(this.#log);
  }

  /** Before the body: a missing or malformed signature header is refused (401) unread. */
  admit(headers: IncomingHttpHeaders): Admission {
    const started = this.#options.verifier.begin(headers[SIGNATURE_HEADER], headers["x-hub-signature"]);
    if (started.ok) return { signature: started.body };
    return { refused: this.refuse(401, started.reason) };
  }

  /** An answer refusing the delivery, logged at a limited rate. */
  refuse(status: number, reason: string): Answer {
    this.refusals.note(status, reason);
    return { status, body: { error: reason } };
  }

  /** The delivery, once its whole body has been read and fed to `signature`. */
  async handle(headers: IncomingHttpHeaders, body: Buffer, signature: StreamingSignature): Promise<Answer> {
    const verified = signature.finish();
    if (!verified.ok) return this.refuse(401, verified.reason);
    const head = parseDeliveryHeaders(headers);
    if (!head.ok) return { status: head.status, body: { error: head.reason } };
    const { event, id } = head.value;
    const payload = decodePayload(body, headers["content-type"]);
    if (!payload.ok) return { status: payload.status, body: { error: payload.reason, delivery: id } };
    const meaning = classify(event, payload.value, this.#options.filters);
    if (!meaning.ok) return { status: meaning.status, body: { error: meaning.reason, delivery: id } };
    const decided = meaning.value;

    const answer = this.#chain.then(async (): Promise<Answer> => {
      const { store, scheduler } = this.#options;
      const original = store.state.outcomeOf(id);
      if (original) {
        await store.append({ type: "duplicate", id });
        this.#log.info(`delivery ${id} (${event}) is a redelivery; it was ${original}, not running it again`);
        return {
          status: 200,
          body: { outcome: "duplicate", delivery: id, reason: `delivery ${id} was already received; it is ${original}` },
        };
      }
      const facts = { repository: decided.repository, ref: decided.ref, branch: decided.branch, commit: decided.commit };
      if (decided.kind === "push") {
        const superseded = await scheduler.submit({
          id,
          event,
          repository: decided.repository,
          ref: decided.ref,
          branch: decided.branch,
          commit: decided.commit,
        });
        this.#log.info(
          `delivery ${id}: push to ${printable(decided.repository)} ${printable(decided.branch)} @ ${decided.commit.slice(0, 7)} queued`,
        );
        return {
          status: 202,
          body: { outcome: "queued", delivery: id, branch: decided.branch, commit: decided.commit, supersedes: superseded },
        };
      }
      const outcome = decided.kind === "ping" ? "ping" : "ignored";
      const reason = decided.kind === "ignored" ? decided.reason : null;
      await store.append({ type: "delivery", id, event, ...facts, outcome, reason, supersedes: [] });
      this.#log.info(`delivery ${id} (${event}): ${outcome}${reason ? ` (${printable(reason)})` : ""}`);
      return { status: 200, body: reason === null ? { outcome, delivery: id } : { outcome, delivery: id, reason } };
    });
    this.#chain = answer.catch(() => undefined);
    try {
      return await answer;
    } catch (err) {
      this.#log.warn(`could not record delivery ${id}: ${errorMessage(err)}`);
      return { status: 500, body: { error: `could not record the delivery: ${errorMessage(err)}`, delivery: id } };
    }
  }
}
