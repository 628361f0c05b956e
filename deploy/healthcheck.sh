#!/bin/sh
# The image's HEALTHCHECK, for whichever FlowMate binary the container runs: the gateway and the standalone serve
# /healthz on FLOWMATE_HTTP_ADDR, the other services on FLOWMATE_GRPC_ADDR. Healthy if either answers.
set -u
http_addr="${FLOWMATE_HTTP_ADDR:-127.0.0.1:3000}"
grpc_addr="${FLOWMATE_GRPC_ADDR:-0.0.0.0:50051}"
for port in "${http_addr##*:}" "${grpc_addr##*:}"; do
  if curl -fs --max-time 3 -o /dev/null "http://127.0.0.1:${port}/healthz"; then
    exit 0
  fi
done
echo "no /healthz answered on 127.0.0.1 ports ${http_addr##*:} and ${grpc_addr##*:}" >&2
exit 1
