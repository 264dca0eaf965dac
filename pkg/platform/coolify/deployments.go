package coolify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Deployment statuses (application_deployment_queues.status).
const (
	DeploymentQueued     = "queued"
	DeploymentInProgress = "in_progress"
	DeploymentFinished   = "finished"
	DeploymentFailed     = "failed"
	DeploymentCancelled  = "cancelled-by-user"
)

// Deployment is one deployment of an application.
type Deployment struct {
	UUID   string `json:"deployment_uuid"`
	Status string `json:"status"`
	// RestartOnly marks a restart (same image, new container) rather than a
	// full deploy.
	RestartOnly bool      `json:"restart_only"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// FinishedAt is set once the deployment is finished, failed or cancelled.
	FinishedAt *time.Time `json:"finished_at"`
}

// Done reports a terminal status. Coolify has no timeout of its own for a
// deployment stuck queued or in progress: the caller needs a deadline.
func (d Deployment) Done() bool {
	switch d.Status {
	case DeploymentFinished, DeploymentFailed, DeploymentCancelled:
		return true
	}
	return false
}

// UnmarshalJSON reads Laravel's timestamps (see Application.UnmarshalJSON).
func (d *Deployment) UnmarshalJSON(b []byte) error {
	type plain Deployment
	w := struct {
		*plain
		CreatedAt  laravelTime  `json:"created_at"`
		UpdatedAt  laravelTime  `json:"updated_at"`
		FinishedAt *laravelTime `json:"finished_at"`
	}{plain: (*plain)(d)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	d.CreatedAt, d.UpdatedAt, d.FinishedAt = time.Time(w.CreatedAt), time.Time(w.UpdatedAt), w.FinishedAt.ptr()
	return nil
}

// Deployments returns the application's take most recent deployments
// (default 10 when take < 1), newest first. It is how a start is followed:
// the UUID StartApplication returns may be empty (skipped) or never stored.
func (c *Client) Deployments(ctx context.Context, uuid string, take int) ([]Deployment, error) {
	if take < 1 {
		take = 10
	}
	p, err := appPath("list_deployments", uuid, "")
	if err != nil {
		return nil, err
	}
	// Coolify's spec says an array of Application; it is this object.
	var out struct {
		Count       int          `json:"count"`
		Deployments []Deployment `json:"deployments"`
	}
	err = c.do(ctx, call{op: "list_deployments", method: http.MethodGet,
		path:       "/deployments" + p,
		query:      url.Values{"skip": {"0"}, "take": {strconv.Itoa(take)}},
		out:        &out,
		idempotent: true})
	if err != nil {
		return nil, err
	}
	if out.Deployments == nil {
		out.Deployments = []Deployment{}
	}
	return out.Deployments, nil
}
