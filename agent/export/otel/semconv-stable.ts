/**
 * The stable semantic-convention keys and values wirespan uses, with the names and values
 * `@opentelemetry/semantic-conventions` exports. Importing one constant from the package loads
 * its index (every stable attribute, metric and event: ~20 ms of each thread's start, the main
 * thread and every worker); these few strings do not need it. test/export/semconv.test.ts checks
 * each against the package, so a rename or a changed value there fails the tests, not the output.
 * Keys that are not stable: semconv.ts.
 */
// Attributes
export const ATTR_CLIENT_ADDRESS = 'client.address';
export const ATTR_CLIENT_PORT = 'client.port';
export const ATTR_DB_NAMESPACE = 'db.namespace';
export const ATTR_DB_OPERATION_BATCH_SIZE = 'db.operation.batch.size';
export const ATTR_DB_OPERATION_NAME = 'db.operation.name';
export const ATTR_DB_QUERY_TEXT = 'db.query.text';
export const ATTR_DB_RESPONSE_STATUS_CODE = 'db.response.status_code';
export const ATTR_DB_STORED_PROCEDURE_NAME = 'db.stored_procedure.name';
export const ATTR_DB_SYSTEM_NAME = 'db.system.name';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_HTTP_REQUEST_METHOD_ORIGINAL = 'http.request.method_original';
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const ATTR_HTTP_ROUTE = 'http.route';
export const ATTR_NETWORK_PEER_ADDRESS = 'network.peer.address';
export const ATTR_NETWORK_PEER_PORT = 'network.peer.port';
export const ATTR_NETWORK_PROTOCOL_VERSION = 'network.protocol.version';
export const ATTR_NETWORK_TRANSPORT = 'network.transport';
export const ATTR_NETWORK_TYPE = 'network.type';
export const ATTR_RPC_METHOD = 'rpc.method';
export const ATTR_RPC_STATUS_CODE = 'rpc.status_code';
export const ATTR_RPC_SYSTEM_NAME = 'rpc.system.name';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_SERVICE_NAME = 'service.name';
export const ATTR_URL_FULL = 'url.full';
export const ATTR_URL_PATH = 'url.path';
export const ATTR_URL_QUERY = 'url.query';
export const ATTR_URL_SCHEME = 'url.scheme';
export const ATTR_USER_AGENT_ORIGINAL = 'user_agent.original';

// Metrics
export const METRIC_DB_CLIENT_OPERATION_DURATION = 'db.client.operation.duration';
export const METRIC_HTTP_CLIENT_REQUEST_DURATION = 'http.client.request.duration';
export const METRIC_HTTP_SERVER_REQUEST_DURATION = 'http.server.request.duration';
export const METRIC_RPC_CLIENT_CALL_DURATION = 'rpc.client.call.duration';
export const METRIC_RPC_SERVER_CALL_DURATION = 'rpc.server.call.duration';

// Values
export const DB_SYSTEM_NAME_VALUE_POSTGRESQL = 'postgresql';
export const RPC_SYSTEM_NAME_VALUE_GRPC = 'grpc';
