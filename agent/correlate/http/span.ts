/**
 * HTTP pairs as spans (HTTP semantic conventions): `{method}` or `{method} {route}`, url.*,
 * http.*, 5xx (and 4xx on CLIENT spans) as errors, trace joined from traceparent,
 * http.server/client.request.duration.
 */
import type { Attributes } from '@opentelemetry/api';
import { int, str } from '../../export/otel/detail-values.ts';
import { heuristicRoute } from '../../export/otel/http-route-heuristics.ts';
import { HttpRoutes } from '../../export/otel/http-routes.ts';
import {
  ATTR_HTTP_REQUEST_BODY_SIZE,
  ATTR_HTTP_RESPONSE_BODY_SIZE,
  ATTR_URL_TEMPLATE,
} from '../../export/otel/semconv.ts';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVICE_NAME,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  METRIC_HTTP_CLIENT_REQUEST_DURATION,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
} from '../../export/otel/semconv-stable.ts';
import { parseTraceParent } from '../../export/otel/traceparent.ts';
import type { ProtocolSpans } from '../protocol.ts';
import type { HttpDetail } from './matcher.ts';
import { redactUserinfo } from './redact.ts';

/** HTTP methods the conventions know; others are reported as `_OTHER` with the original kept. */
const kKnownMethods = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);

/** Host header → host without port (`example.com:8080` → `example.com`, `[::1]:80` → `::1`). */
function hostOnly(hostHeader: string): string {
  const at = hostHeader.lastIndexOf('@'); // userinfo (not valid in Host, but possible) is never exported
  const host = at < 0 ? hostHeader : hostHeader.slice(at + 1);
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    return close > 0 ? host.slice(1, close) : host;
  }
  const colon = host.indexOf(':');
  return colon >= 0 && host.indexOf(':', colon + 1) < 0 ? host.slice(0, colon) : host;
}

/** An absolute-form target (`http://host/path`, a proxy request); origin-form ones start with "/". */
function isAbsoluteForm(target: string): boolean {
  return target.charCodeAt(0) !== 0x2f && /^https?:\/\//i.test(target);
}

/** network.protocol.version: the parser writes "1.1", a detail from elsewhere may say "HTTP/1.1". */
function protocolVersion(version: string): string {
  const first = version.charCodeAt(0);
  return first >= 0x30 && first <= 0x39 ? version : version.replace(/^HTTP\//i, '');
}

/** Splits an HTTP request target into path and query (undefined when there is none). */
function splitTarget(target: string): { path: string; query: string | undefined } {
  let pathAndQuery = target;
  if (isAbsoluteForm(target)) {
    // absolute-form (proxy requests): keep only the path and query.
    const slash = target.indexOf('/', target.indexOf('//') + 2);
    pathAndQuery = slash < 0 ? '/' : target.slice(slash);
  }
  const hash = pathAndQuery.indexOf('#');
  if (hash >= 0) pathAndQuery = pathAndQuery.slice(0, hash);
  const question = pathAndQuery.indexOf('?');
  return question < 0
    ? { path: pathAndQuery, query: undefined }
    : { path: pathAndQuery.slice(0, question), query: pathAndQuery.slice(question + 1) };
}

export const httpSpans: ProtocolSpans<HttpDetail> = {
  histograms: [METRIC_HTTP_CLIENT_REQUEST_DURATION, METRIC_HTTP_SERVER_REQUEST_DURATION],
  create: (options) => {
    const routes = new HttpRoutes(options.httpRoutes, 'httpRoutes');
    const heuristics = options.httpRouteHeuristics ?? true;
    return {
      map(pair, detail, span) {
        const attributes = span.attributes;
        const serverSide = span.serverSide;
        const server = span.server;
        const rawMethod = str(detail?.method) ?? 'GET';
        const known = kKnownMethods.has(rawMethod);
        const method = known ? rawMethod : '_OTHER';
        attributes[ATTR_HTTP_REQUEST_METHOD] = method;
        if (!known) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = rawMethod;
        const target = str(detail?.target) ?? '/';
        const { path, query } = splitTarget(target);
        attributes[ATTR_URL_PATH] = path;
        if (query !== undefined) attributes[ATTR_URL_QUERY] = query;
        attributes[ATTR_URL_SCHEME] = 'http';
        const host = str(detail?.host);
        if (host !== null) attributes[ATTR_SERVER_ADDRESS] = hostOnly(host);
        if (!serverSide) {
          const authority =
            host ??
            (pair.ipVersion === 6 ? `[${server}]` : server) +
              (pair.serverPort === 80 ? '' : `:${pair.serverPort}`);
          const full = isAbsoluteForm(target)
            ? target // absolute-form (a proxy request) already is the full URL, redacted at parse time
            : `http://${authority}${target.startsWith('/') ? target : `/${target}`}`;
          // A Host header cannot carry userinfo, but hostile traffic may send one anyway.
          attributes[ATTR_URL_FULL] = full.includes('@') ? redactUserinfo(full) : full;
        }
        const rawVersion = str(detail?.version);
        const version = rawVersion === null ? null : protocolVersion(rawVersion);
        if (version !== null) attributes[ATTR_NETWORK_PROTOCOL_VERSION] = version;
        const userAgent = str(detail?.user_agent);
        if (userAgent !== null) attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent;
        const requestLength = int(detail?.request_content_length);
        if (requestLength !== null) attributes[ATTR_HTTP_REQUEST_BODY_SIZE] = requestLength;
        const responseLength = int(detail?.response_content_length);
        if (responseLength !== null) attributes[ATTR_HTTP_RESPONSE_BODY_SIZE] = responseLength;
        const status = int(detail?.status);
        if (span.matched && status !== null) {
          attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
          // 5xx: error on both sides; 4xx: the client's error only (the server did its job).
          if (status >= 500 || (status >= 400 && !serverSide)) span.errorType = String(status);
        }
        const configured = routes.size > 0 ? routes.match(path) : null;
        const route = configured ?? (heuristics ? heuristicRoute(path) : null);
        if (route !== null) attributes[serverSide ? ATTR_HTTP_ROUTE : ATTR_URL_TEMPLATE] = route;
        const nameMethod = known ? rawMethod : 'HTTP';
        span.name = route === null ? nameMethod : `${nameMethod} ${route}`;
        if (detail?.traceparent !== undefined && detail.traceparent !== null) {
          span.parent = parseTraceParent(detail.traceparent);
          span.invalidTraceparent = span.parent === null;
        }
        if (span.matched) {
          const metricAttributes: Attributes = {
            [ATTR_HTTP_REQUEST_METHOD]: method,
            [ATTR_URL_SCHEME]: 'http',
            [ATTR_SERVICE_NAME]: span.serviceName,
          };
          if (status !== null) metricAttributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
          if (version !== null) metricAttributes[ATTR_NETWORK_PROTOCOL_VERSION] = version;
          if (route !== null) metricAttributes[serverSide ? ATTR_HTTP_ROUTE : ATTR_URL_TEMPLATE] = route;
          if (span.errorType !== null) metricAttributes[ATTR_ERROR_TYPE] = span.errorType;
          span.metric = {
            name: serverSide ? METRIC_HTTP_SERVER_REQUEST_DURATION : METRIC_HTTP_CLIENT_REQUEST_DURATION,
            value: span.seconds,
            attributes: metricAttributes,
          };
        }
      },
    };
  },
};
