// Shapes of what this module reads and writes: the ImageSet handed to compose, the
// .envoy-pipeline/images.json file, and the parts of Docker's and npm's JSON that we rely on.
import { z } from "zod";
import { IMAGE_NAMES } from "./versions.ts";

export const imageNameSchema = z.enum(IMAGE_NAMES);
export const imageSourceSchema = z.enum(["official", "local"]);
export type ImageSource = z.infer<typeof imageSourceSchema>;

export const imageEntrySchema = z
  .object({
    /** What compose builds FROM. */
    ref: z.string().min(1),
    source: imageSourceSchema,
    /** Image id (sha256:...), or null when the image is not present (only from resolveImages). */
    id: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/)
      .nullable(),
  })
  .strict();
export type ImageEntry = z.infer<typeof imageEntrySchema>;

const envSchema = z
  .object({
    NODE_IMAGE: z.string().min(1),
    ENVOY_IMAGE: z.string().min(1),
    PROMETHEUS_IMAGE: z.string().min(1),
    ZIPKIN_IMAGE: z.string().min(1),
  })
  .strict();

export const imageSetSchema = z
  .object({
    /** "official" when every image is the official one, "local" when any is a local build. */
    source: imageSourceSchema,
    /** The compose variables (NODE_IMAGE, ENVOY_IMAGE, PROMETHEUS_IMAGE, ZIPKIN_IMAGE). */
    env: envSchema,
    /** Per image: reference, where it came from, image id. */
    images: z.object({ node: imageEntrySchema, envoy: imageEntrySchema, prometheus: imageEntrySchema, zipkin: imageEntrySchema }).strict(),
  })
  .strict()
  .superRefine((set, ctx) => {
    const anyLocal = Object.values(set.images).some((i) => i.source === "local");
    if (set.source !== (anyLocal ? "local" : "official")) {
      ctx.addIssue({ code: "custom", path: ["source"], message: `must be "${anyLocal ? "local" : "official"}" for these images` });
    }
    const pairs = [
      ["NODE_IMAGE", "node"],
      ["ENVOY_IMAGE", "envoy"],
      ["PROMETHEUS_IMAGE", "prometheus"],
      ["ZIPKIN_IMAGE", "zipkin"],
    ] as const;
    for (const [variable, name] of pairs) {
      if (set.env[variable] !== set.images[name].ref) {
        ctx.addIssue({ code: "custom", path: ["env", variable], message: `must equal images.${name}.ref (${set.images[name].ref})` });
      }
    }
  });

/** The ImageSet: `env` is what compose needs; `images` says where each came from. */
export type ImageSet = z.infer<typeof imageSetSchema>;

/** .envoy-pipeline/images.json: the last ImageSet prepareImages() resolved. */
export const imagesFileSchema = z
  .object({
    version: z.literal(1),
    preparedAt: z.string(),
    imageSet: imageSetSchema,
    /** The Testcontainers reaper image (absent in files written before it existed). */
    ryuk: imageEntrySchema.optional(),
  })
  .strict();
export type ImagesFile = z.infer<typeof imagesFileSchema>;

/** The part of `docker image inspect` (GET /images/{name}/json) that we use. */
export const imageInspectSchema = z.object({
  Id: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  RepoTags: z.array(z.string()).nullable().optional(),
  Size: z.number().nonnegative(),
  Config: z
    .object({
      Labels: z.record(z.string(), z.string()).nullable().optional(),
    })
    .passthrough()
    .nullable()
    .optional(),
});
export type ImageInspect = z.infer<typeof imageInspectSchema>;

/** `npm pack --json` output: one entry per packed package. */
export const npmPackSchema = z
  .array(
    z
      .object({
        id: z.string(),
        filename: z.string().min(1),
        integrity: z.string().regex(/^sha\d+-/),
        shasum: z.string().regex(/^[0-9a-f]{40}$/),
      })
      .passthrough(),
  )
  .min(1);

/** One line of a wheel's RECORD file: path, "sha256=<urlsafe base64, no padding>", size. */
export const wheelRecordLineSchema = z.tuple([
  z.string().min(1),
  z.string().regex(/^sha256=[A-Za-z0-9_-]+$/, "must be sha256=<urlsafe base64>"),
  z.string().regex(/^\d+$/),
]);
