// The base images the stack builds FROM: planned, found or built by prepare.ts.
export { HOST_CA_BUNDLE, type ImagePlan, type LocalImagePlan, planImages } from "./plan.ts";
export { inspectImage, Slots, stateDir } from "./local-build.ts";
export {
  type PrepareOptions,
  planRyuk,
  localReaperImage,
  prepareImages,
  resolveImages,
  readImagesFile,
} from "./prepare.ts";
export type { ImageEntry, ImageSet } from "./schema.ts";
export { imageSetSchema } from "./schema.ts";
export { ENV_VARS, IMAGE_NAMES, OFFICIAL, PINS, RYUK, type ImageName } from "./versions.ts";
