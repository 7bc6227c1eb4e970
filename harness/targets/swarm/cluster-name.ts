// The cluster's name rules, apart from cluster.ts so that the CLI can check `--name` without
// loading the cluster code (and dockerode) at start-up.
import { z } from "zod";

export const DEFAULT_CLUSTER = "envoy-pipeline-swarm";

export const clusterNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, "must be lower-case letters, digits and '-' (at most 41)");
