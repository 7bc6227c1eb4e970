// One delivery, from raw request to answer: signature (401), headers and body (400/415), meaning
// (ping, push to run, or ignored with a reason), duplicate check and durable record, in that order.
// Deliveries are handled one after another (a promise chain) so that the duplicate check and the
// record of a delivery can never interleave with another delivery's.
import type { IncomingHttpHeaders } from "node:http";
import { errorMessage } from "../lib/errors.ts";
import { type DeliveryFilters, classify, decodePayload, parseDeliveryHeaders } from "./events.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import type { Scheduler } from "./scheduler.ts";
import { SIGNATURE_HEADER, type SignatureVerifier } from "./signature.ts";
import type { DeliveryStore } from "./store.ts";

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface ReceiverOptions {
  readonly verifier: SignatureVerifier;
  readonly store: DeliveryStore;
  readonly scheduler: Scheduler;
  readonly filters: DeliveryFilters;
  readonly log?: Logger;
}

export class Receiver {
  readonly #options: ReceiverOptions;
  readonly #log: Logger;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(options: ReceiverOptions) {
    this.#options = options;
    this.#log = options.log ?? silentLogger;
  }

  async handle(headers: IncomingHttpHeaders, body: Buffer): Promise<Answer> {
    const signature = await this.#options.verifier.verify(body, headers[SIGNATURE_HEADER], headers["x-hub-signature"]);
    if (!signature.ok) {
      this.#log.warn(`rejected a delivery (401): ${signature.reason}`);
      return { status: 401, body: { error: signature.reason } };
    }
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
      const original = store.state.get(id);
      if (original) {
        await store.append({ type: "duplicate", id });
        this.#log.info(`delivery ${id} (${event}) is a redelivery; it was ${original.outcome}, not running it again`);
        return {
          status: 200,
          body: { outcome: "duplicate", delivery: id, reason: `delivery ${id} was already received; it is ${original.outcome}` },
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
        this.#log.info(`delivery ${id}: push to ${decided.branch} @ ${decided.commit.slice(0, 7)} queued`);
        return {
          status: 202,
          body: { outcome: "queued", delivery: id, branch: decided.branch, commit: decided.commit, supersedes: superseded },
        };
      }
      const outcome = decided.kind === "ping" ? "ping" : "ignored";
      const reason = decided.kind === "ignored" ? decided.reason : null;
      await store.append({ type: "delivery", id, event, ...facts, outcome, reason, supersedes: [] });
      this.#log.info(`delivery ${id} (${event}): ${outcome}${reason ? ` (${reason})` : ""}`);
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
