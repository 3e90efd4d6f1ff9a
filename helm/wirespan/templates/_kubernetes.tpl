{{/*
Kubernetes metadata (kubernetes.enabled): the agent watches Pods, Services, EndpointSlices,
ReplicaSets and Jobs to name observed services after their workloads. The token is mounted
into the agent container only (not the capture container), as the projected volume the
kubelet would otherwise mount into every container; automountServiceAccountToken stays false.
*/}}

{{/* Agent flags. */}}
{{- define "wirespan.kubernetesArgs" -}}
{{- if .Values.kubernetes.enabled }}
- --kubernetes
- --kubernetes-max-objects
- {{ .Values.kubernetes.maxObjects | int | quote }}
{{- if .Values.kubernetes.nameLabels }}
- --kubernetes-name-labels
{{- end }}
{{- end }}
{{- end }}

{{/* The agent's mount of the service-account token, where in-cluster config looks for it. */}}
{{- define "wirespan.kubernetesMount" -}}
{{- if .Values.kubernetes.enabled }}
- name: kube-api-access
  mountPath: /var/run/secrets/kubernetes.io/serviceaccount
  readOnly: true
{{- end }}
{{- end }}

{{/* The token (rotated by the kubelet), the cluster CA and the namespace. */}}
{{- define "wirespan.kubernetesVolume" -}}
{{- if .Values.kubernetes.enabled }}
- name: kube-api-access
  projected:
    defaultMode: 292 # = 0444
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3607
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                fieldPath: metadata.namespace
{{- end }}
{{- end }}
