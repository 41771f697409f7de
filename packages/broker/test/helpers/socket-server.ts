/**
 * A SocketServer on 127.0.0.1 port 0 around a test's RequestProcessor, with generous
 * connection limits and no idle timeout unless the test overrides them. `lines` collects
 * the server's log lines (debug level).
 */
import { SocketServer } from '../../src/network/socket-server.js';
import type { SocketServerOptions } from '../../src/network/socket-server.js';
import type { RequestProcessor } from '../../src/network/request-processor.js';
import { createLogger } from '../../src/logger.js';

export async function startSocketServer(
  processor: RequestProcessor,
  overrides: Partial<SocketServerOptions> = {},
  maxFrameBytes = 1 << 20,
): Promise<{ server: SocketServer; port: number; lines: string[] }> {
  const lines: string[] = [];
  const server = new SocketServer({
    listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 0, securityProtocol: 'PLAINTEXT' }],
    processor,
    logger: createLogger({ level: 'debug', sink: (line) => lines.push(line) }),
    maxFrameBytes,
    maxInflightRequests: 100,
    idleTimeoutMs: 0,
    maxConnections: 1000,
    maxConnectionsPerIp: 1000,
    ...overrides,
  });
  const [bound] = await server.start();
  return { server, port: bound!.port, lines };
}
