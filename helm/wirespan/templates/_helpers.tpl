{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "wirespan.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, or the release name when it already contains the chart name. */}}
{{- define "wirespan.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "wirespan.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wirespan.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wirespan.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "wirespan.labels" -}}
helm.sh/chart: {{ include "wirespan.chart" . }}
{{ include "wirespan.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: agent
{{- end }}

{{- define "wirespan.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wirespan.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
repository:tag or repository@digest; the tag defaults to the chart's appVersion. With a
global registry (third item), it replaces the repository's registry: the first path
component when it is a host (has a "." or ":", or is localhost), else it is prepended.
*/}}
{{- define "wirespan.imageRef" -}}
{{- $image := index . 0 }}
{{- $appVersion := index . 1 }}
{{- $registry := index . 2 }}
{{- $repository := $image.repository }}
{{- if $registry }}
{{- $parts := splitList "/" $repository }}
{{- $first := first $parts }}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) }}
{{- $repository = join "/" (rest $parts) }}
{{- end }}
{{- $repository = printf "%s/%s" (trimSuffix "/" $registry) $repository }}
{{- end }}
{{- if $image.digest }}
{{- printf "%s@%s" $repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default $appVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* global.image.registry, or "" (parent charts may leave global or global.image out). */}}
{{- define "wirespan.globalRegistry" -}}
{{- ((.Values.global | default dict).image | default dict).registry | default "" }}
{{- end }}

{{- define "wirespan.image" -}}
{{- include "wirespan.imageRef" (list .Values.image .Chart.AppVersion (include "wirespan.globalRegistry" .)) }}
{{- end }}

{{/* The capture image: capture.image when it names a repository, else the wirespan image. */}}
{{- define "wirespan.captureImage" -}}
{{- if .Values.capture.image.repository }}
{{- include "wirespan.imageRef" (list .Values.capture.image .Chart.AppVersion (include "wirespan.globalRegistry" .)) }}
{{- else }}
{{- include "wirespan.image" . }}
{{- end }}
{{- end }}

{{- define "wirespan.capturePullPolicy" -}}
{{- default .Values.image.pullPolicy .Values.capture.image.pullPolicy }}
{{- end }}

{{/* The directory both containers see the capture files in. */}}
{{- define "wirespan.pcapDir" -}}/pcaps{{- end }}

{{/* Path of the tcpdump -z hook that prunes old files in time rotation. */}}
{{- define "wirespan.pruneScript" -}}/etc/wirespan-capture/prune.sh{{- end }}

{{/* --on-done: the value, or the default for the capture mode (see values.yaml). */}}
{{- define "wirespan.onDone" -}}
{{- if .Values.agent.onDone }}
{{- .Values.agent.onDone }}
{{- else if and .Values.capture.enabled (eq .Values.capture.rotation.mode "time") }}
{{- "delete" }}
{{- else }}
{{- "keep" }}
{{- end }}
{{- end }}

{{/* emptyDir sizeLimit: the value, or room for fileCount + 2 files. */}}
{{- define "wirespan.pcapSizeLimit" -}}
{{- if .Values.pcapVolume.sizeLimit }}
{{- .Values.pcapVolume.sizeLimit }}
{{- else }}
{{- printf "%dMi" (mul (add (int .Values.capture.rotation.fileCount) 2) (int .Values.capture.rotation.fileSizeMB)) }}
{{- end }}
{{- end }}

{{/* The BPF filter: capture.filter, or one built from the agent's protocol ports. */}}
{{- define "wirespan.captureFilter" -}}
{{- if .Values.capture.filter }}
{{- .Values.capture.filter }}
{{- else }}
{{- $excluded := list }}
{{- $own := list .Values.agent.healthPort }}
{{- if eq (include "wirespan.prometheusEnabled" .) "true" }}
{{- $own = append $own .Values.agent.metrics.port }}
{{- end }}
{{- range (concat .Values.capture.excludePorts $own) }}
{{- $excluded = append $excluded (printf "port %d" (int .)) }}
{{- end }}
{{- $udp := list }}
{{- range (concat .Values.agent.protocols.dnsPorts .Values.agent.protocols.udpPorts) }}
{{- $udp = append $udp (printf "port %d" (int .)) }}
{{- end }}
{{- $udp = uniq $udp }}
{{- $wanted := "tcp or icmp or icmp6" }}
{{- if $udp }}
{{- $wanted = printf "tcp or icmp or icmp6 or (udp and (%s))" (join " or " $udp) }}
{{- end }}
{{- printf "not (%s) and (%s)" (join " or " (uniq $excluded)) $wanted }}
{{- end }}
{{- end }}

{{/* Comma-joined list for a CLI flag. */}}
{{- define "wirespan.csv" -}}
{{- $items := list }}
{{- range . }}{{ $items = append $items (toString .) }}{{ end }}
{{- join "," $items }}
{{- end }}

{{/* --service-map value: MATCH=NAME,... */}}
{{- define "wirespan.serviceMapArg" -}}
{{- $items := list }}
{{- range . }}{{ $items = append $items (printf "%s=%s" .match .name) }}{{ end }}
{{- join "," $items }}
{{- end }}

{{/* key=value,key=value (sorted by key), as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES take them. */}}
{{- define "wirespan.kvList" -}}
{{- $items := list }}
{{- range $key, $value := . }}{{ $items = append $items (printf "%s=%v" $key $value) }}{{ end }}
{{- join "," $items }}
{{- end }}

{{/* OTEL_RESOURCE_ATTRIBUTES: the downward-API attributes, then agent.resourceAttributes. */}}
{{- define "wirespan.resourceAttributes" -}}
{{- $attributes := list "k8s.node.name=$(K8S_NODE_NAME)" "k8s.pod.name=$(K8S_POD_NAME)" "k8s.namespace.name=$(K8S_NAMESPACE_NAME)" "k8s.pod.uid=$(K8S_POD_UID)" }}
{{- with .Values.agent.resourceAttributes }}
{{- $attributes = append $attributes (include "wirespan.kvList" .) }}
{{- end }}
{{- join "," $attributes }}
{{- end }}

{{/* "true" when wirespan serves its own metrics for Prometheus (agent.metrics.exporters has prometheus). */}}
{{- define "wirespan.prometheusEnabled" -}}
{{- has "prometheus" .Values.agent.metrics.exporters }}
{{- end }}

{{/* Where the agent container sees agent.config (the -config ConfigMap). */}}
{{- define "wirespan.agentConfigFile" -}}/etc/wirespan/config/wirespan.yaml{{- end }}

{{/* A Kubernetes CPU quantity ("1", "1.5", 2, "1500m") in millicores. */}}
{{- define "wirespan.millicores" -}}
{{- $quantity := toString . }}
{{- if hasSuffix "m" $quantity }}{{ trimSuffix "m" $quantity | int }}{{ else }}{{ mulf (float64 $quantity) 1000 | int }}{{ end }}
{{- end }}
