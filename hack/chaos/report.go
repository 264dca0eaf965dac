package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// report is chaos.json: the fields first, then what explains them.
type report struct {
	Accepted                      int               `json:"accepted"`
	Done                          int               `json:"done"`
	FatalByReason                 map[string]int    `json:"fatal_by_reason"`
	Stuck                         int               `json:"stuck"`
	DuplicateWorkloads            int               `json:"duplicate_workloads"`
	LeakedWorkloads               int               `json:"leaked_workloads"`
	DeletedDuringFailedList       int               `json:"deleted_during_failed_list"`
	LostCreates                   int               `json:"lost_creates"`
	FatalFromTransientFaults      int               `json:"fatal_from_transient_faults"`
	Kills                         int               `json:"kills"`
	RecoveryP50Seconds            float64           `json:"recovery_p50_seconds"`
	RecoveryP99Seconds            float64           `json:"recovery_p99_seconds"`
	PostgresOutageRecoverySeconds *float64          `json:"postgres_outage_recovery_seconds"`
	LeadersAtEnd                  int               `json:"leaders_at_end"`
	Mode                          string            `json:"mode"`
	Seed                          int64             `json:"seed"`
	Replicas                      int               `json:"replicas"`
	ChaosPhaseSeconds             float64           `json:"chaos_phase_seconds"`
	TotalSeconds                  float64           `json:"total_seconds"`
	Planned                       int               `json:"planned"`
	CreatesNotAccepted            int               `json:"creates_not_accepted"`
	DuplicateBots                 int               `json:"duplicate_bots"`
	DoneByReason                  map[string]int    `json:"done_by_reason"`
	BotsByPlatform                map[string]int    `json:"bots_by_platform"`
	Scheduled                     int               `json:"scheduled"`
	Recording                     int               `json:"recording"`
	WithCallback                  int               `json:"with_callback"`
	StopActions                   map[string]int    `json:"stop_actions"`
	UnexpectedStops               int               `json:"unexpected_stops"`
	StopCallsJudged               int               `json:"stop_calls_judged"`
	StopsOfRunningBots            int               `json:"stops_of_running_bot_workloads"`
	RecoverySamples               int               `json:"recovery_samples"`
	LeaderGapSamples              []float64         `json:"leader_gap_samples_seconds"`
	Unrecovered                   int               `json:"unrecovered"`
	KillLog                       []killRecord      `json:"kill_log"`
	MaxLeadersSeen                int               `json:"max_leaders_seen"`
	LongestLeaderGapSeconds       float64           `json:"longest_leader_gap_seconds"`
	FaultWindows                  []windowRecord    `json:"fault_windows"`
	Injections                    []injectionRecord `json:"injections"`
	DiscardedJobs                 map[string]int    `json:"discarded_jobs"`
	WebhookDeliveries             int               `json:"webhook_deliveries"`
	WebhookBadSignatures          int               `json:"webhook_bad_signatures"`
	WebhooksMissing               int               `json:"webhooks_missing"`
	BotCallAnswers                map[string]int    `json:"bot_call_answers"`
	ECSMaxActiveTasks             int               `json:"ecs_max_active_tasks"`
	PostgresOutageSeconds         float64           `json:"postgres_outage_seconds,omitempty"`
	WorkloadSamples               int               `json:"workload_samples"`
	FatalDetails                  []string          `json:"fatal_details"`
	Violations                    []string          `json:"violations"`
	WorkDir                       string            `json:"work_dir"`
}

// writeReport writes chaos.json and prints the table.
func (c *chaos) writeReport(r *report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	printTable(c.out, r)
	if c.opts.out == "" {
		return nil
	}
	return os.WriteFile(c.opts.out, append(b, '\n'), 0o644)
}

// printTable prints the figures, then the violations.
func printTable(w io.Writer, r *report) {
	pg := "-"
	if r.PostgresOutageRecoverySeconds != nil {
		pg = fmt.Sprintf("%.2f", *r.PostgresOutageRecoverySeconds)
	}
	rows := [][2]string{
		{"mode", fmt.Sprintf("%s, %d replicas, seed %d", r.Mode, r.Replicas, r.Seed)},
		{"accepted / planned", fmt.Sprintf("%d / %d", r.Accepted, r.Planned)},
		{"done", fmt.Sprintf("%d %s", r.Done, counts(r.DoneByReason))},
		{"fatal", counts(r.FatalByReason)},
		{"bots by platform", counts(r.BotsByPlatform)},
		{"stop actions", counts(r.StopActions)},
		{"stuck", itoa(r.Stuck)},
		{"duplicate workloads", itoa(r.DuplicateWorkloads)},
		{"leaked workloads", itoa(r.LeakedWorkloads)},
		{"deleted during failed list", itoa(r.DeletedDuringFailedList)},
		{"unexpected stops", fmt.Sprintf("%d (of %d stops, %d of a bot's running workload)", r.UnexpectedStops, r.StopCallsJudged, r.StopsOfRunningBots)},
		{"lost creates", itoa(r.LostCreates)},
		{"fatal from transient faults", itoa(r.FatalFromTransientFaults)},
		{"kills", itoa(r.Kills)},
		{"recovery p50 / p99 (s)", fmt.Sprintf("%.2f / %.2f (%d samples)", r.RecoveryP50Seconds, r.RecoveryP99Seconds, r.RecoverySamples)},
		{"postgres outage recovery (s)", pg},
		{"leaders at end", itoa(r.LeadersAtEnd)},
		{"longest leader gap (s)", fmt.Sprintf("%.2f", r.LongestLeaderGapSeconds)},
		{"discarded jobs", counts(r.DiscardedJobs)},
		{"webhooks", fmt.Sprintf("%d delivered, %d bad signatures, %d missing", r.WebhookDeliveries, r.WebhookBadSignatures, r.WebhooksMissing)},
		{"fault windows / injections", fmt.Sprintf("%d / %d", len(r.FaultWindows), len(r.Injections))},
		{"time (s)", fmt.Sprintf("chaos phase %.0f, total %.0f", r.ChaosPhaseSeconds, r.TotalSeconds)},
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tVALUE")
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	_ = tw.Flush()
	if len(r.Violations) == 0 {
		fmt.Fprintln(w, "no violations")
		return
	}
	fmt.Fprintf(w, "%d violation lines:\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintln(w, "  "+v)
	}
}

// counts renders a map as "k v, k v" sorted by key ("-" when empty).
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
