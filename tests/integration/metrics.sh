#!/usr/bin/env bash
# The agents' Prometheus metrics around real migrations: each host's agent serves GET /metrics
# on its own loopback (127.0.0.1:9464 inside its namespace) and nowhere else. Scraped before
# and after a real host-a -> host-b migration, a migration refused in preflight (strict), a
# checkpoint the source agent refuses, and a controller from another CA: every counter and
# histogram moves exactly as it must on each side, and nothing moves for what never ran.
source "$(dirname "$0")/lib.sh"
ID=metrics-$$

# scrape HOST NAME: the host's metrics into $TEST_TMP/NAME.HOST.
scrape() {
  "$TH" metrics "$1" >"$TEST_TMP/$2.$1" || fail "cannot scrape $1's metrics"
}
# value HOST NAME SERIES: the sample of SERIES (name and labels, exactly as exposed: labels
# sorted by name, as prometheus-cpp writes them).
value() {
  awk -v s="$3" '$1 == s { print $2; found = 1 } END { if (!found) exit 1 }' "$TEST_TMP/$2.$1" ||
    fail "$1: no series $3 in the $2 scrape"
}
# moved HOST SERIES: how much SERIES grew from the "before" scrape to the "after" one.
moved() { echo $(( $(value "$1" after "$2") - $(value "$1" before "$2") )); }
# expect_moved HOST SERIES N
expect_moved() {
  local got
  got=$(moved "$1" "$2")
  [ "$got" = "$3" ] || fail "$1: $2 moved by $got, expected $3"
}
# expect_histogram_moved HOST NAME LABELS N: _count and the +Inf bucket grew by N, the sum
# grew by more than 0 when N > 0, and every bucket is cumulative.
expect_histogram_moved() {
  local host=$1 name=$2 labels=$3 n=$4 sum_before sum_after
  expect_moved "$host" "${name}_count{$labels}" "$n"
  expect_moved "$host" "${name}_bucket{$labels,le=\"+Inf\"}" "$n"
  sum_before=$(value "$host" before "${name}_sum{$labels}")
  sum_after=$(value "$host" after "${name}_sum{$labels}")
  if [ "$n" -gt 0 ]; then
    awk -v a="$sum_after" -v b="$sum_before" 'BEGIN { exit !(a > b) }' ||
      fail "$host: ${name}_sum{$labels} did not grow ($sum_before -> $sum_after)"
  fi
  awk -v p="${name}_bucket{$labels," '
    index($1, p) == 1 { if ($2 < last) bad = 1; last = $2 }
    END { exit bad }' "$TEST_TMP/after.$host" || fail "$host: ${name}{$labels} buckets not cumulative"
}
# expect_same HOST SERIES FROM: SERIES in the "after" scrape equals the FROM scrape.
expect_same() {
  local a b
  a=$(value "$1" "$3" "$2")
  b=$(value "$1" after "$2")
  [ "$a" = "$b" ] || fail "$1: $2 moved ($a -> $b) though nothing of it ran"
}

SRC='role="source"'
DST='role="destination"'

log "the listener: loopback of each host only, GET /metrics only"
for h in host-a host-b; do
  ns=$(netns_path "$h")
  out=$(nsenter --net="$ns" curl -s -D - -o "$TEST_TMP/body" http://127.0.0.1:9464/metrics)
  grep -qi '^content-type: text/plain; version=0.0.4' <<<"$out" || fail "$h: content type: $out"
  grep -q '^# TYPE migrate_agent_migrations_total counter$' "$TEST_TMP/body" || fail "$h: no TYPE line"
  code=$(nsenter --net="$ns" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9464/other)
  [ "$code" = 404 ] || fail "$h: /other answered $code"
  code=$(nsenter --net="$ns" curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:9464/metrics)
  [ "$code" = 405 ] || fail "$h: POST /metrics answered $code"
  ip=$(jq -r --arg h "$h" '.hosts[] | select(.name == $h) | .address' "$MIGRATE_HOSTS")
  if curl -s --max-time 3 -o /dev/null "http://$ip:9464/metrics"; then
    fail "$h: metrics reachable on its management address $ip"
  fi
done

start_counter host-a "$ID"
for h in host-a host-b; do scrape "$h" before; done

log "a real migration host-a -> host-b"
migrate_json "$ID" host-a host-b --cgroups-mode ignore
[ "$RC" -eq 0 ] || fail "migration failed: $(report .error)"
raw=$(report .bytes.raw)
wire=$(report .bytes.wire)
[ "$raw" -gt 0 ] && [ "$wire" -gt 0 ] || fail "the report has no bytes ($raw raw, $wire wire)"
for h in host-a host-b; do scrape "$h" migrated; done
cp "$TEST_TMP/migrated.host-a" "$TEST_TMP/after.host-a"
cp "$TEST_TMP/migrated.host-b" "$TEST_TMP/after.host-b"

expect_moved host-a "migrate_agent_migrations_total{$SRC,status=\"committed\"}" 1
expect_moved host-a "migrate_agent_migrations_total{$SRC,status=\"rolled_back\"}" 0
expect_moved host-a "migrate_agent_migrations_total{$DST,status=\"committed\"}" 0
expect_moved host-b "migrate_agent_migrations_total{$DST,status=\"committed\"}" 1
expect_moved host-b "migrate_agent_migrations_total{$SRC,status=\"committed\"}" 0
for phase in checkpointing checkpointed committing; do
  expect_histogram_moved host-a migrate_agent_phase_duration_seconds "phase=\"$phase\",$SRC" 1
done
for phase in prepared restoring restored committing; do
  expect_histogram_moved host-b migrate_agent_phase_duration_seconds "phase=\"$phase\",$DST" 1
done
expect_histogram_moved host-a migrate_agent_downtime_seconds "$SRC" 1
expect_histogram_moved host-b migrate_agent_downtime_seconds "$DST" 1
expect_histogram_moved host-a migrate_agent_downtime_seconds "$DST" 0
# Two streams (images, bundle): what the source sent is what the destination received and
# what the controller reported.
expect_moved host-a 'migrate_agent_streams_total{direction="sent"}' 2
expect_moved host-b 'migrate_agent_streams_total{direction="received"}' 2
expect_moved host-a 'migrate_agent_streams_total{direction="received"}' 0
expect_moved host-a 'migrate_agent_stream_raw_bytes_total{direction="sent"}' "$raw"
expect_moved host-b 'migrate_agent_stream_raw_bytes_total{direction="received"}' "$raw"
expect_moved host-a 'migrate_agent_stream_wire_bytes_total{direction="sent"}' "$wire"
expect_moved host-b 'migrate_agent_stream_wire_bytes_total{direction="received"}' "$wire"
for h in host-a host-b; do
  for d in sent received; do
    [ "$(value "$h" after "migrate_agent_streams_in_flight{direction=\"$d\"}")" = 0 ] ||
      fail "$h: streams still in flight ($d) after the migration"
  done
  expect_moved "$h" 'migrate_agent_criu_failures_total{operation="checkpoint"}' 0
  expect_moved "$h" 'migrate_agent_criu_failures_total{operation="restore"}' 0
done
expect_moved host-a "migrate_agent_rollbacks_total{outcome=\"done\",$SRC}" 0
share() {  # HOST ROLE: the growth of that role's downtime sum, in seconds
  awk -v a="$(value "$1" after "migrate_agent_downtime_seconds_sum{role=\"$2\"}")" \
    -v b="$(value "$1" before "migrate_agent_downtime_seconds_sum{role=\"$2\"}")" \
    'BEGIN { printf "%.3f", a - b }'
}
log "migrated: $raw raw bytes, $wire on the wire, counted on both sides; downtime" \
  "$(report .timings_ms.downtime) ms end to end, shares: source $(share host-a source) s," \
  "destination $(share host-b destination) s"

log "refused in preflight (strict): nothing of a migration runs, nothing moves"
migrate_json "$ID" host-b host-a --cgroups-mode strict
[ "$RC" -ne 0 ] || fail "strict accepted"
for h in host-a host-b; do scrape "$h" after; done
for h in host-a host-b; do
  for role in "$SRC" "$DST"; do
    for status in committed rolled_back failed refused; do
      expect_same "$h" "migrate_agent_migrations_total{$role,status=\"$status\"}" migrated
    done
    expect_same "$h" "migrate_agent_downtime_seconds_count{$role}" migrated
  done
  expect_same "$h" 'migrate_agent_streams_total{direction="sent"}' migrated
  expect_same "$h" 'migrate_agent_streams_total{direction="received"}' migrated
done

log "a checkpoint the source agent refuses (no such container): counted as refused"
api host-b /v1/checkpoint-send CheckpointSendRequest "migration_id: \"m-refused-$$\"
  container_id: \"absent-$$\" cgroup_mode: CGROUP_MODE_SOFT
  target { node_name: \"host-a\" address: \"198.18.0.1\" data_port: 7444 token: \"0123456789abcdef0123\" }" \
  CheckpointSendResponse
[ "$API_STATUS" != 200 ] || fail "a checkpoint of an absent container was accepted"
scrape host-b after
expect_moved host-b "migrate_agent_migrations_total{$SRC,status=\"refused\"}" 1
expect_same host-b "migrate_agent_migrations_total{$SRC,status=\"failed\"}" migrated
expect_same host-b 'migrate_agent_streams_total{direction="sent"}' migrated

log "a controller certificate from another CA: refused at the TLS handshake"
"$MIGRATE_BIN" certs ca --out "$TEST_TMP/rogue-ca" >/dev/null
"$MIGRATE_BIN" certs issue --ca-dir "$TEST_TMP/rogue-ca" --name controller --role controller \
  --out "$TEST_TMP/rogue" >/dev/null
jq --arg d "$TEST_TMP/rogue" --arg ca "$(dirname "$MIGRATE_HOSTS")/pki/controller/ca.pem" \
  '.controller = {ca: $ca, cert: ($d + "/cert.pem"), key: ($d + "/key.pem")}' \
  "$MIGRATE_HOSTS" >"$TEST_TMP/hosts.json"
series='migrate_agent_connections_refused_total{listener="api",reason="handshake"}'
scrape host-b before
migrate_json "$ID" host-b host-a --hosts "$TEST_TMP/hosts.json"
[ "$RC" -ne 0 ] || fail "rogue certificate accepted"
scrape host-b after
[ "$(moved host-b "$series")" -ge 1 ] || fail "host-b: $series did not move"
expect_moved host-b "migrate_agent_migrations_total{$SRC,status=\"committed\"}" 0
expect_counting host-b "$ID" 0
log PASS
