package bench

// Results are the figures Run measures. The JSON names are fixed: scripts
// read them. A figure of a measurement that did not run is zero, and left
// out of the JSON.
type Results struct {
	Events                      int         `json:"events"`
	Batch                       int         `json:"batch"`
	Keys                        bool        `json:"keys"`
	WriteSeconds                float64     `json:"write_seconds"`
	WriteEventsPerSec           float64     `json:"write_events_per_sec"`
	ReadSeconds                 float64     `json:"read_seconds"`
	ReadEventsPerSec            float64     `json:"read_events_per_sec"`
	SnapshotRebuildSeconds      float64     `json:"snapshot_rebuild_seconds"`
	SnapshotRebuildFirstSeconds float64     `json:"snapshot_rebuild_first_seconds"`
	DBBytes                     int64       `json:"db_bytes"`
	RawWriteEventsPerSec        float64     `json:"raw_write_events_per_sec,omitempty"`
	RawReadEventsPerSec         float64     `json:"raw_read_events_per_sec,omitempty"`
	RawTableScanEventsPerSec    float64     `json:"raw_table_scan_events_per_sec,omitempty"`
	WriteRatio                  float64     `json:"write_ratio,omitempty"`
	ReadRatio                   float64     `json:"read_ratio,omitempty"`
	Writers                     int         `json:"writers,omitempty"`
	GroupCommitEventsPerSec     float64     `json:"group_commit_events_per_sec,omitempty"`
	SingleWriterEventsPerSec    float64     `json:"single_writer_events_per_sec,omitempty"`
	GroupCommitSpeedup          float64     `json:"group_commit_speedup,omitempty"`
	Conflicts                   int64       `json:"conflicts,omitempty"`
	WatchP50Ms                  float64     `json:"watch_p50_ms,omitempty"`
	WatchP99Ms                  float64     `json:"watch_p99_ms,omitempty"`
	CrossProcessP50Ms           float64     `json:"cross_process_p50_ms,omitempty"`
	CrossProcessP99Ms           float64     `json:"cross_process_p99_ms,omitempty"`
	PollIntervalMs              float64     `json:"poll_interval_ms,omitempty"`
	IdleCPUPercent              float64     `json:"idle_cpu_percent,omitempty"`
	FanoutWatchers              int         `json:"fanout_watchers,omitempty"`
	FanoutEventsPerSec          float64     `json:"fanout_events_per_sec,omitempty"`
	FanoutDeliveriesPerSec      float64     `json:"fanout_deliveries_per_sec,omitempty"`
	PeakRSSBytes                int64       `json:"peak_rss_bytes,omitempty"`
	SlowWatchers                int         `json:"slow_watchers,omitempty"`
	SlowWriteRatio              float64     `json:"slow_watchers_write_ratio,omitempty"`
	SlowPeakRSSBytes            int64       `json:"slow_watchers_peak_rss_bytes,omitempty"`
	ReadAllEventsPerSec         float64     `json:"read_all_events_per_sec,omitempty"`
	ConsumeEventsPerSec         float64     `json:"consume_events_per_sec,omitempty"`
	ConsumeRatio                float64     `json:"consume_ratio,omitempty"`
	ConsumeP50Ms                float64     `json:"consume_p50_ms,omitempty"`
	ConsumeP99Ms                float64     `json:"consume_p99_ms,omitempty"`
	ConsumeTakeoverMs           float64     `json:"consume_takeover_ms,omitempty"`
	ConsumeCrossProcessP50Ms    float64     `json:"consume_cross_process_p50_ms,omitempty"`
	ConsumeCrossProcessP99Ms    float64     `json:"consume_cross_process_p99_ms,omitempty"`
	ConsumeKillTakeoverMs       float64     `json:"consume_kill_takeover_ms,omitempty"`
	ConsumeKillLeaseMs          float64     `json:"consume_kill_lease_ms,omitempty"`
	ReadModelEventsPerSec       float64     `json:"readmodel_events_per_sec,omitempty"`
	DCB                         *DCBResults `json:"dcb,omitempty"`
}
