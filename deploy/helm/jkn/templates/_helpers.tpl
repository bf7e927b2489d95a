{{/*
Names and labels. Every object is called <fullname>-<component> and carries the recommended
app.kubernetes.io/* labels; selectors use name, instance and component only (never version).
*/}}

{{- define "jkn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jkn.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<component>; call with (dict "root" $ "component" "auth") */}}
{{- define "jkn.componentName" -}}
{{- printf "%s-%s" (include "jkn.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jkn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jkn.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "jkn.labels" -}}
{{ include "jkn.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: jkn
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Labels of objects that belong to the release as a whole (no component). */}}
{{- define "jkn.releaseLabels" -}}
app.kubernetes.io/name: {{ include "jkn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: jkn
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/*
A component's settings: its own block over `defaults`. Returns YAML; use with fromYaml. Besides its
values it says which `service` it runs (image, JKN_<SERVICE>_* settings, database) and, for notify,
its `role` (JKN_NOTIFY_ROLE). "notify-worker" is notify's delivery worker: notify's process settings
(image digest, ports, uses, secrets, env, extraEgress) with its own pod settings
(services.notify.worker: any key of `defaults`) over `defaults`.
*/}}
{{- define "jkn.serviceConfig" -}}
{{- $services := .root.Values.services -}}
{{- $config := dict -}}
{{- if eq .name "notify-worker" -}}
{{- $notify := $services.notify -}}
{{- $process := pick $notify "digest" "grpcPort" "metricsPort" "uses" "existingSecret" "secretEnv" "env" "extraEgress" -}}
{{- $config = merge (deepCopy ($notify.worker | default dict)) (deepCopy $process) (deepCopy .root.Values.defaults) -}}
{{- $_ := set $config "service" "notify" -}}
{{- $_ := set $config "role" "worker" -}}
{{- else -}}
{{- $config = merge (deepCopy (omit (index $services .name) "worker")) (deepCopy .root.Values.defaults) -}}
{{- $_ := set $config "service" .name -}}
{{- $_ := set $config "role" (ternary "api" "" (eq .name "notify")) -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The image of a component: <registry>/<repository>/<component>:<tag> or @<digest>. */}}
{{- define "jkn.image" -}}
{{- $image := .root.Values.image -}}
{{- $base := printf "%s/%s/%s" $image.registry $image.repository .component -}}
{{- $digest := .digest | default "" -}}
{{- if $digest -}}
{{- printf "%s@%s" $base $digest -}}
{{- else -}}
{{- printf "%s:%s" $base (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The gRPC address of a service inside the cluster. */}}
{{- define "jkn.address" -}}
{{- $svc := index .root.Values.services .name -}}
{{- printf "%s:%v" (include "jkn.componentName" (dict "root" .root "component" .name)) $svc.grpcPort -}}
{{- end -}}

{{/*
Environment shared by every container of the platform: JKN_ENV, logging, peers, Redis, Kafka,
OpenTelemetry. Names are the fields of services/kit/settings.py (PlatformSettings).
*/}}
{{- define "jkn.platformEnv" -}}
{{- $root := .root -}}
{{- $uses := .uses -}}
- name: JKN_ENV
  value: {{ $root.Values.platform.env | quote }}
- name: JKN_LOG_LEVEL
  value: {{ $root.Values.platform.logLevel | quote }}
- name: JKN_LOG_JSON
  value: {{ $root.Values.platform.logJson | quote }}
- name: JKN_CAPTCHA
  value: {{ $root.Values.platform.captcha | quote }}
- name: JKN_RPC_TIMEOUT_S
  value: {{ $root.Values.platform.rpcTimeoutS | quote }}
- name: JKN_DATA_DIR
  value: /tmp/jkn
{{- range $peer := list "auth" "notify" "membership" "queue" }}
- name: JKN_{{ upper $peer }}_ADDR
  value: {{ include "jkn.address" (dict "root" $root "name" $peer) | quote }}
{{- end }}
{{- if and $uses.redis (not $root.Values.redis.existingSecret) }}
- name: JKN_REDIS_URL
  value: {{ $root.Values.redis.url | quote }}
{{- end }}
{{- if $uses.kafka }}
{{- $kafka := $root.Values.kafka }}
- name: JKN_KAFKA_BOOTSTRAP
  value: {{ $kafka.bootstrap | quote }}
- name: JKN_KAFKA_SECURITY_PROTOCOL
  value: {{ $kafka.securityProtocol | quote }}
{{- if hasPrefix "SASL_" $kafka.securityProtocol }}
- name: JKN_KAFKA_SASL_MECHANISM
  value: {{ $kafka.sasl.mechanism | quote }}
{{- end }}
{{- if $kafka.tls.caSecret }}
- name: JKN_KAFKA_SSL_CAFILE
  value: /etc/jkn/kafka-ca/{{ $kafka.tls.caKey }}
{{- end }}
{{- end }}
{{- if $root.Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $root.Values.otel.endpoint | quote }}
{{- end }}
{{- end -}}

{{/* JKN_<SERVICE>_DATABASE_URL, without its password (that comes as a file: jkn.secretFiles). */}}
{{- define "jkn.databaseEnv" -}}
{{- $pg := .root.Values.postgres -}}
{{- $db := index $pg.databases .name -}}
- name: JKN_{{ upper .name }}_DATABASE_URL
  value: {{ printf "postgresql://%s@%s:%v/%s?sslmode=%s" $db.user $pg.host $pg.port $db.name $pg.sslMode | quote }}
{{- end -}}

{{/*
The secrets a service reads, as files named like their variables in one projected volume
(mounted at /etc/jkn/secrets, JKN_SECRETS_DIR): the database password, the service's own
Secret (services.<name>.secretEnv: VARIABLE: key), the Redis URL and the Kafka SASL user when
they come from Secrets. Nothing secret is an environment variable. Empty when there is none.
Arguments: root, name, svc (the service's config), database (true: only the database password).
*/}}
{{- define "jkn.secretFiles" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $only := .databaseOnly -}}
{{- if $svc.uses.postgres }}
{{- $pg := $root.Values.postgres }}
- secret:
    name: {{ $pg.existingSecret }}
    items:
      - key: {{ (index $pg.databases .name).passwordKey }}
        path: JKN_{{ upper .name }}_DATABASE_PASSWORD
{{- end }}
{{- if and (not $only) $svc.secretEnv }}
- secret:
    name: {{ required (printf "services.%s.existingSecret names the Secret with its secrets" .name) $svc.existingSecret }}
    items:
      {{- range $var, $key := $svc.secretEnv }}
      - key: {{ $key }}
        path: {{ $var }}
      {{- end }}
{{- end }}
{{- if and (not $only) $svc.uses.redis $root.Values.redis.existingSecret }}
- secret:
    name: {{ $root.Values.redis.existingSecret }}
    items:
      - key: {{ $root.Values.redis.urlKey }}
        path: JKN_REDIS_URL
{{- end }}
{{- if and (not $only) $svc.uses.kafka (hasPrefix "SASL_" $root.Values.kafka.securityProtocol) }}
{{- $sasl := $root.Values.kafka.sasl }}
- secret:
    name: {{ required "kafka.sasl.existingSecret names the Secret with the SASL user" $sasl.existingSecret }}
    items:
      - key: {{ $sasl.usernameKey }}
        path: JKN_KAFKA_SASL_USERNAME
      - key: {{ $sasl.passwordKey }}
        path: JKN_KAFKA_SASL_PASSWORD
{{- end }}
{{- end -}}

{{/* The pod and container security settings every pod of the chart uses. */}}
{{- define "jkn.podSecurityContext" -}}
{{- toYaml .Values.defaults.podSecurityContext -}}
{{- end -}}

{{- define "jkn.containerSecurityContext" -}}
{{- toYaml .Values.defaults.securityContext -}}
{{- end -}}
