package coolify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Application is what the controller reads of a Coolify application.
// Coolify's answer has many more fields, and gains some between releases;
// they are ignored. A JSON null reads as the zero value.
type Application struct {
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Status is "<state>:<health>", e.g. "running:healthy"; see ParseStatus.
	// It lags reality by up to a minute or two.
	Status string `json:"status"`
	// Image and Tag are as stored: create splits "image@sha256:…" into a name
	// ending in "@sha256" and the digest as tag; update stores them as sent.
	Image                  string `json:"docker_registry_image_name"`
	Tag                    string `json:"docker_registry_image_tag"`
	PortsExposes           string `json:"ports_exposes"`
	LimitsCPUs             string `json:"limits_cpus"`
	LimitsMemory           string `json:"limits_memory"`
	CustomDockerRunOptions string `json:"custom_docker_run_options"`
	// RestartCount is how often Docker restarted the container since the
	// last deploy or stop; at MaxRestartCount (0 = no limit) Coolify stops
	// the application.
	RestartCount    int        `json:"restart_count"`
	MaxRestartCount int        `json:"max_restart_count"`
	LastRestartAt   *time.Time `json:"last_restart_at"`
	// LastOnlineAt is when a status check last found the status unchanged.
	LastOnlineAt *time.Time `json:"last_online_at"`
	// ServerStatus is false when Coolify cannot use the application's server;
	// Status is then stale.
	ServerStatus bool      `json:"server_status"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// UnmarshalJSON reads Laravel's timestamps, which are ISO 8601 for cast
// columns and "2006-01-02 15:04:05" for others.
func (a *Application) UnmarshalJSON(b []byte) error {
	type plain Application
	w := struct {
		*plain
		LastRestartAt *laravelTime `json:"last_restart_at"`
		LastOnlineAt  *laravelTime `json:"last_online_at"`
		CreatedAt     laravelTime  `json:"created_at"`
		UpdatedAt     laravelTime  `json:"updated_at"`
	}{plain: (*plain)(a)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	a.LastRestartAt, a.LastOnlineAt = w.LastRestartAt.ptr(), w.LastOnlineAt.ptr()
	a.CreatedAt, a.UpdatedAt = time.Time(w.CreatedAt), time.Time(w.UpdatedAt)
	return nil
}

// CreateApp is a docker-image application to create. JSON names are
// Coolify's; empty fields are not sent, so Coolify's defaults apply.
type CreateApp struct {
	ProjectUUID string `json:"project_uuid"` // required
	ServerUUID  string `json:"server_uuid"`  // required
	// One of EnvironmentName and EnvironmentUUID is required; every project
	// has an environment named "production".
	EnvironmentName string `json:"environment_name,omitempty"`
	EnvironmentUUID string `json:"environment_uuid,omitempty"`
	// DestinationUUID is needed only when the server has several Docker
	// networks (Coolify answers 400 without it).
	DestinationUUID string `json:"destination_uuid,omitempty"`
	// Name is not unique in Coolify: adopting by name must expect duplicates.
	// Empty means "docker-image-<random>".
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Image       string `json:"docker_registry_image_name"` // required, e.g. "ghcr.io/org/bot"
	Tag         string `json:"docker_registry_image_tag,omitempty"`
	// PortsExposes ("3000") is required by Coolify up to v4.1.1 even for an
	// application that serves nothing; set it for compatibility.
	PortsExposes string `json:"ports_exposes,omitempty"`
	LimitsCPUs   string `json:"limits_cpus,omitempty"`   // "1.5"
	LimitsMemory string `json:"limits_memory,omitempty"` // "2g"
	// Tags are attached on creation (Coolify v4.2.0+), lowercased and
	// trimmed as Coolify stores them; each must be at least 2 characters.
	Tags []string `json:"tags,omitempty"`
	// CustomDockerRunOptions: Coolify honours only some flags (--shm-size,
	// --cap-add, --init, --ulimit, …) and drops the rest silently.
	CustomDockerRunOptions string `json:"custom_docker_run_options,omitempty"`
	// MaxRestartCount is how many Docker restarts Coolify tolerates before it
	// stops the application; nil keeps Coolify's default (10), 0 disables.
	MaxRestartCount *int `json:"max_restart_count,omitempty"`
}

// prepare checks a and normalises its tags in place.
func (a *CreateApp) prepare() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"ProjectUUID", a.ProjectUUID}, {"ServerUUID", a.ServerUUID}, {"Image", a.Image},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if a.EnvironmentName == "" && a.EnvironmentUUID == "" {
		missing = append(missing, "EnvironmentName or EnvironmentUUID")
	}
	if len(missing) > 0 {
		return fmt.Errorf("coolify: create_application: missing %s", strings.Join(missing, ", "))
	}
	for i, t := range a.Tags {
		if a.Tags[i] = normalizeTag(t); len(a.Tags[i]) < 2 {
			return fmt.Errorf("coolify: create_application: tag %q is shorter than 2 characters", t)
		}
	}
	return nil
}

// normalizeTag is what Coolify stores for a tag name. Listing by tag is an
// exact match on the stored name, so both sides must normalise alike.
func normalizeTag(t string) string { return strings.ToLower(strings.TrimSpace(t)) }

// CreateApplication creates a docker-image application and returns its UUID.
// Nothing is deployed (instant_deploy is false) and no domain is generated
// (autogenerate_domain is false): a bot serves nothing, and Coolify's default
// would route a public sslip.io URL to it.
//
// It is not retried after a 5xx or a transport error: the application may
// have been created anyway. The caller adopts by name or tag before
// creating again.
func (c *Client) CreateApplication(ctx context.Context, app CreateApp) (string, error) {
	app.Tags = slices.Clone(app.Tags)
	if err := app.prepare(); err != nil {
		return "", err
	}
	body := struct {
		CreateApp
		InstantDeploy      bool `json:"instant_deploy"`
		AutogenerateDomain bool `json:"autogenerate_domain"`
	}{CreateApp: app}
	var out struct {
		UUID string `json:"uuid"`
	}
	err := c.do(ctx, call{op: "create_application", method: http.MethodPost, path: "/applications/dockerimage",
		body: body, out: &out})
	if err != nil {
		return "", err
	}
	if out.UUID == "" {
		return "", errors.New("coolify: create_application: answer has no uuid")
	}
	return out.UUID, nil
}

// GetApplication reads one application. After DeleteApplication it keeps
// answering until Coolify's delete job has run, then IsNotFound.
func (c *Client) GetApplication(ctx context.Context, uuid string) (Application, error) {
	var app Application
	p, err := appPath("get_application", uuid, "")
	if err != nil {
		return app, err
	}
	err = c.do(ctx, call{op: "get_application", method: http.MethodGet, path: p, out: &app, idempotent: true})
	return app, err
}

// ListApplications lists the team's applications with the given tag (all of
// them when tag is empty), sorted by name. Coolify does not paginate. An
// error means the list is incomplete: absence from it is no evidence.
func (c *Client) ListApplications(ctx context.Context, tag string) ([]Application, error) {
	var q url.Values
	if tag = normalizeTag(tag); tag != "" {
		q = url.Values{"tag": {tag}}
	}
	var apps []Application
	err := c.do(ctx, call{op: "list_applications", method: http.MethodGet, path: "/applications", query: q,
		out: &apps, idempotent: true})
	if err != nil {
		return nil, err
	}
	if apps == nil {
		apps = []Application{}
	}
	return apps, nil
}

// AppPatch changes an application; nil fields are left alone. Changes take
// effect at the next start: the running container keeps the old ones.
type AppPatch struct {
	Description            *string `json:"description,omitempty"`
	Image                  *string `json:"docker_registry_image_name,omitempty"`
	Tag                    *string `json:"docker_registry_image_tag,omitempty"`
	LimitsCPUs             *string `json:"limits_cpus,omitempty"`
	LimitsMemory           *string `json:"limits_memory,omitempty"`
	CustomDockerRunOptions *string `json:"custom_docker_run_options,omitempty"`
	MaxRestartCount        *int    `json:"max_restart_count,omitempty"`
}

func (p AppPatch) empty() bool { return p == AppPatch{} }

// UpdateApplication applies p. An empty patch sends nothing (Coolify would
// answer 400 "Empty JSON.").
func (c *Client) UpdateApplication(ctx context.Context, uuid string, p AppPatch) error {
	path, err := appPath("update_application", uuid, "")
	if err != nil || p.empty() {
		return err
	}
	return c.do(ctx, call{op: "update_application", method: http.MethodPatch, path: path, body: p, idempotent: true})
}

// DeleteApplication asks Coolify to delete an application, its container,
// configuration, volumes and networks. Coolify only queues the delete:
// GetApplication answers until the job has run (and the job ignores remote
// failures, so a container may survive on an unreachable server). Docker
// cleanup is off: it prunes images server-wide, including warm bot images.
// A 404 (already gone) is returned as an APIError for which IsNotFound is
// true; callers that only want it gone can ignore it.
func (c *Client) DeleteApplication(ctx context.Context, uuid string) error {
	p, err := appPath("delete_application", uuid, "")
	if err != nil {
		return err
	}
	q := url.Values{
		"delete_configurations":     {"true"},
		"delete_volumes":            {"true"},
		"docker_cleanup":            {"false"},
		"delete_connected_networks": {"true"},
	}
	return c.do(ctx, call{op: "delete_application", method: http.MethodDelete, path: p, query: q, idempotent: true})
}

// envKey is Coolify's rule for variable names.
var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// envItem is one variable of a bulk update, with every flag set: Coolify
// resets omitted flags rather than keeping them.
type envItem struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	IsPreview   bool   `json:"is_preview"`
	IsLiteral   bool   `json:"is_literal"`
	IsMultiline bool   `json:"is_multiline"`
	IsShownOnce bool   `json:"is_shown_once"`
	IsRuntime   bool   `json:"is_runtime"`
	IsBuildtime bool   `json:"is_buildtime"`
}

// SetEnvs creates or updates the application's (non-preview) environment
// variables; variables not in envs are left alone. They reach the container
// at its next start only.
//
// Values are literal (no $VAR interpolation by Coolify), runtime-only (an
// image is not built, and build-time variables leak into build logs). Keys
// are checked before sending: Coolify validates item by item without a
// transaction, so a bad key would leave the earlier ones written.
func (c *Client) SetEnvs(ctx context.Context, uuid string, envs map[string]string) error {
	p, err := appPath("set_envs", uuid, "/envs/bulk")
	if err != nil || len(envs) == 0 {
		return err // nothing to send: Coolify answers 400 to an empty list
	}
	keys := make([]string, 0, len(envs))
	for k := range envs {
		if len(k) > 255 || !envKey.MatchString(k) {
			return fmt.Errorf("coolify: set_envs: invalid variable name %q", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys) // same map, same request
	data := make([]envItem, len(keys))
	for i, k := range keys {
		v := envs[k]
		data[i] = envItem{Key: k, Value: v, IsLiteral: true, IsMultiline: strings.Contains(v, "\n"), IsRuntime: true}
	}
	body := struct {
		Data []envItem `json:"data"`
	}{data}
	return c.do(ctx, call{op: "set_envs", method: http.MethodPatch, path: p, body: body, idempotent: true})
}

// StartApplication queues a deployment (pull, create the container, start
// it) and returns its UUID. When a deployment of the application is already
// queued or running, Coolify skips the request and there is no UUID: the
// result is "" and no error. The UUID may also belong to a deployment Coolify
// never stored (its queue was full); follow progress with Deployments.
//
// It is not retried after a 5xx or a transport error: the deployment may be
// queued anyway.
func (c *Client) StartApplication(ctx context.Context, uuid string) (string, error) {
	p, err := appPath("start_application", uuid, "/start")
	if err != nil {
		return "", err
	}
	var out struct {
		DeploymentUUID string `json:"deployment_uuid"`
	}
	err = c.do(ctx, call{op: "start_application", method: http.MethodPost, path: p, out: &out})
	return out.DeploymentUUID, err
}

// StopApplication queues a stop: containers are stopped (grace period) and
// removed, and Status becomes "exited:unhealthy" when the job has run. There
// is no job id; poll the status. Docker cleanup is off (see DeleteApplication).
func (c *Client) StopApplication(ctx context.Context, uuid string) error {
	p, err := appPath("stop_application", uuid, "/stop")
	if err != nil {
		return err
	}
	return c.do(ctx, call{op: "stop_application", method: http.MethodPost, path: p,
		query: url.Values{"docker_cleanup": {"false"}}, idempotent: true})
}

// appPath is /applications/{uuid}<suffix>.
func appPath(op, uuid, suffix string) (string, error) {
	if uuid == "" {
		return "", fmt.Errorf("coolify: %s: empty application uuid", op)
	}
	return "/applications/" + url.PathEscape(uuid) + suffix, nil
}

// laravelTime reads Laravel's timestamp forms.
type laravelTime time.Time

func (t *laravelTime) UnmarshalJSON(b []byte) error {
	var s string
	if string(b) == "null" {
		return nil
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("coolify: timestamp %s is not a string", b)
	}
	if s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateTime} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = laravelTime(v)
			return nil
		}
	}
	return fmt.Errorf("coolify: timestamp %q is neither ISO 8601 nor %q", s, time.DateTime)
}

func (t *laravelTime) ptr() *time.Time {
	if t == nil || time.Time(*t).IsZero() {
		return nil
	}
	v := time.Time(*t)
	return &v
}
