// Local HTTP servers the unit tests start: closed with every connection, so that no keep-alive
// socket holds the test process open.
import type { Server } from "node:http";

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
