/** The part of @elastic/mockotlpserver@0.10.0 (CommonJS, no typings) that the export tests use. */
declare module '@elastic/mockotlpserver' {
  interface MockOtlpServerOptions {
    services?: ('http' | 'grpc' | 'ui')[];
    grpcHostname?: string;
    grpcPort?: number;
    httpHostname?: string;
    httpPort?: number;
    logLevel?: string;
    onTrace?: (request: Record<string, unknown>) => void;
    onMetrics?: (request: Record<string, unknown>) => void;
    onLogs?: (request: Record<string, unknown>) => void;
  }
  class MockOtlpServer {
    constructor(options?: MockOtlpServerOptions);
    start(): Promise<void>;
    close(): Promise<void>;
    grpcUrl: URL | null;
    httpUrl: URL | null;
  }
  const mock: { MockOtlpServer: typeof MockOtlpServer };
  export default mock;
}
