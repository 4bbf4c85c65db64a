/**
 * The version of ddplab's machine-readable reports (`run --json` /
 * `--output-format json`, `replay --json`, bench's report.json), written as
 * `schemaVersion` in each and described by docs/report.schema.json. Raise it
 * when a field is removed or changes meaning; adding a field keeps it.
 */
export const REPORT_SCHEMA_VERSION = 3;
// 3: the run report's byte and latency keys carry their unit at the end (host.copiedBytes,
//    crcBytes…, tcp.inBytes, outBytes, ackedBytes, retransBytes; latency p50Us…).
// 2: bench report.json's byte figures end in Bytes (metrics and summary: hostCopiedBytes,
//    hostCrcBytes, unplacedLostSyncBytes, unplacedBelowThresholdBytes, unplacedLimitsBytes,
//    unplacedBytesPerEvent, unplacedBytesPerLostSync); run and replay reports unchanged.
// 1: the first version.
