// Tells Testcontainers which reaper image to run. Import this module before anything that loads
// "testcontainers": testcontainers-node reads RYUK_CONTAINER_IMAGE once, when it is loaded.
// TESTCONTAINERS_RYUK_CONTAINER_IMAGE (the name Testcontainers for Java reads) is honoured too,
// and a value the user set wins. Whether Ryuk runs at all is decided per stage (harness/reaper/session.ts).
import { RYUK } from "../images/versions.ts";

process.env.RYUK_CONTAINER_IMAGE ??= process.env.TESTCONTAINERS_RYUK_CONTAINER_IMAGE ?? RYUK.alias;
