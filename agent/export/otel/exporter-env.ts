/**
 * The SDK environment variables that choose exporters and sampling, read as the OpenTelemetry
 * SDK configuration spec says, with an unsupported value a clear error (OtlpConfigError, one
 * line naming the variable) instead of silence. README.md ("OpenTelemetry export") has the table.
 */
import { getStringFromEnv, getStringListFromEnv } from '@opentelemetry/core';
import { OtlpConfigError } from './otlp-transport.ts';

export type TracesExporterName = 'otlp' | 'console' | 'none';
export type MetricsExporterName = 'otlp' | 'prometheus' | 'console';

const kTracesExporters: readonly TracesExporterName[] = ['otlp', 'console', 'none'];
const kMetricsExporters: readonly string[] = ['otlp', 'prometheus', 'console', 'none'];

/** OTEL_TRACES_EXPORTER: one of otlp (default), console, none. */
export function tracesExporterFromEnv(): TracesExporterName {
  const names = getStringListFromEnv('OTEL_TRACES_EXPORTER') ?? [];
  if (names.length === 0) return 'otlp';
  const [name] = names;
  if (names.length > 1 || !(kTracesExporters as readonly string[]).includes(name!)) {
    throw new OtlpConfigError(
      `OTEL_TRACES_EXPORTER=${names.join(',')} is not supported (one of: ${kTracesExporters.join(', ')})`,
    );
  }
  return name as TracesExporterName;
}

/** OTEL_METRICS_EXPORTER: a list of otlp (default), prometheus, console; `none` alone for none. */
export function metricsExportersFromEnv(): MetricsExporterName[] {
  const names = getStringListFromEnv('OTEL_METRICS_EXPORTER') ?? [];
  if (names.length === 0) return ['otlp'];
  const unknown = names.filter((name) => !kMetricsExporters.includes(name));
  if (unknown.length > 0 || (names.includes('none') && names.length > 1)) {
    throw new OtlpConfigError(
      `OTEL_METRICS_EXPORTER=${names.join(',')} is not supported (a list of otlp, prometheus, console; or none)`,
    );
  }
  return names.includes('none') ? [] : [...new Set(names as MetricsExporterName[])];
}

const kRatioSamplers = new Set(['traceidratio', 'parentbased_traceidratio']);
const kSamplers = new Set([
  'always_on',
  'always_off',
  'parentbased_always_on',
  'parentbased_always_off',
  ...kRatioSamplers,
]);

/**
 * The share of ordinary spans OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG keep (1 when unset).
 * Every sampler is parent-based in wirespan: a span joining a sampled traceparent is kept.
 */
export function sampleRatioFromEnv(): number {
  const sampler = getStringFromEnv('OTEL_TRACES_SAMPLER');
  if (sampler === undefined) return 1;
  if (!kSamplers.has(sampler)) {
    throw new OtlpConfigError(
      `OTEL_TRACES_SAMPLER=${sampler} is not supported (one of: ${[...kSamplers].join(', ')})`,
    );
  }
  if (sampler.endsWith('always_off')) return 0;
  if (!kRatioSamplers.has(sampler)) return 1;
  const arg = getStringFromEnv('OTEL_TRACES_SAMPLER_ARG');
  if (arg === undefined) return 1; // the spec's default ratio
  const ratio = Number(arg);
  if (!(ratio >= 0 && ratio <= 1)) {
    throw new OtlpConfigError(`OTEL_TRACES_SAMPLER_ARG=${arg} is not a ratio from 0 to 1 (for ${sampler})`);
  }
  return ratio;
}

/**
 * OTEL_EXPORTER_PROMETHEUS_HOST / _PORT. Port default 9464 as the spec says; host default all
 * interfaces (the spec says localhost, which a Prometheus in another pod could not scrape).
 */
export function prometheusAddressFromEnv(): { host: string | undefined; port: number } {
  const portText = getStringFromEnv('OTEL_EXPORTER_PROMETHEUS_PORT');
  const port = portText === undefined ? 9464 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new OtlpConfigError(`OTEL_EXPORTER_PROMETHEUS_PORT=${portText} is not a port number`);
  }
  return { host: getStringFromEnv('OTEL_EXPORTER_PROMETHEUS_HOST'), port };
}
