package ecssim

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TaskStopCode is ECS's stopCode (types.TaskStopCodeSpotInterruption, …).
type TaskStopCode = types.TaskStopCode

// lastStatus and desiredStatus values.
const (
	statusProvisioning   = "PROVISIONING"
	statusPending        = "PENDING"
	statusActivating     = "ACTIVATING"
	statusRunning        = "RUNNING"
	statusDeactivating   = "DEACTIVATING"
	statusStopping       = "STOPPING"
	statusDeprovisioning = "DEPROVISIONING"
	statusStopped        = "STOPPED"
)

// Capacity providers of a Fargate cluster.
const (
	providerFargate     = "FARGATE"
	providerFargateSpot = "FARGATE_SPOT"
)

// Texts ECS puts in stoppedReason.
const (
	reasonEssentialExited = "Essential container in task exited"
	reasonUserStop        = "Task stopped by user"
	// ReasonCapacityUnavailable is Fargate's answer when it has no capacity.
	ReasonCapacityUnavailable = "Capacity is unavailable at this time. Please try again later or in a different availability zone"
)

// task is one ECS task with its single essential container.
type task struct {
	seq                  uint64
	id, arn, cluster     string
	def                  TaskDef
	provider             string // FARGATE or FARGATE_SPOT
	viaStrategy          bool   // started through a capacity provider strategy
	group, startedBy     string
	clientToken          string
	tags                 []Tag
	overrides            json.RawMessage
	env                  map[string]string
	enableExecuteCommand bool
	platformVersion      string

	// The awsvpc ENI.
	az, subnet, attachmentID, eniID, mac, ip string
	attachmentStatus                         string

	lastStatus, desiredStatus string
	stopCode                  TaskStopCode
	stoppedReason             string
	// The essential container.
	containerID, runtimeID string
	containerStatus        string
	exitCode               *int
	containerReason        string

	createdAt, pullStartedAt, pullStoppedAt, startedAt, connectivityAt time.Time
	stoppingAt, executionStoppedAt, stoppedAt                          time.Time
	// visibleAt is when the task shows in reads (ConsistencyLag).
	visibleAt time.Time
	version   int64

	// run numbers Workload runs: a run that returns after the container was
	// killed, crashed or vanished is stale and ignored.
	run      int
	running  bool
	cancel   context.CancelCauseFunc
	removed  bool // forgotten: retention over, or vanished
	vanished bool
}

// visible reports whether reads see t yet. Call with s.mu held.
func (s *Sim) visible(t *task) bool { return !t.removed && !s.now().Before(t.visibleAt) }

// setStatus moves t to lastStatus status, keeping the running counters.
func (s *Sim) setStatus(t *task, status string) {
	if t.lastStatus == statusRunning && status != statusRunning {
		s.stats.running--
	}
	if status == statusRunning && t.lastStatus != statusRunning {
		s.stats.running++
		s.stats.maxRunning = max(s.stats.maxRunning, s.stats.running)
	}
	if status == statusStopped && t.lastStatus != statusStopped {
		s.stats.active--
	}
	s.log.Debug("task status", "task", t.id, "from", t.lastStatus, "to", status)
	t.lastStatus = status
	t.version++
}
