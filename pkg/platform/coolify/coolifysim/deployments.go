package coolifysim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Deployment statuses (ApplicationDeploymentStatus).
const (
	deployQueued     = "queued"
	deployInProgress = "in_progress"
	deployFinished   = "finished"
	deployFailed     = "failed"
	deployCancelled  = "cancelled-by-user"
)

// pullShare is the part of a start's latency spent pulling the image; the
// rest is docker compose up, during which the new container exists but is
// not running yet (starting:unknown).
const pullShare = 0.75

// deployment is an application_deployment_queues row.
type deployment struct {
	id          int
	uuid        string
	app         *app
	status      string
	force       bool
	restartOnly bool
	commit      string
	created     time.Time
	updated     time.Time
	finished    time.Time
	processID   string
	configHash  any // the app's config_hash when the job ran; null while queued
	// container is the one this deployment created (nil until the pull is
	// done).
	container *container
}

func (d *deployment) active() bool { return d.status == deployQueued || d.status == deployInProgress }

type deployOptions struct {
	force       bool // ?force=true: rebuild, and past the de-dup check
	restartOnly bool
	noQuestions bool // instant_deploy: past de-dup and concurrency
}

type queueResult int

const (
	deployQueuedOK queueResult = iota
	deploySkipped
	deployQueueFull
)

// queueDeployment is queue_application_deployment(): refuse when the
// server's queue is full, skip when the same app+commit is already queued or
// in progress (unless forced or instant), else insert the row and start it
// right away when the app has nothing in progress and the server has a free
// build slot (or instant).
func (s *Sim) queueDeployment(a *app, uuid string, o deployOptions) queueResult {
	queued := 0
	for _, d := range s.deployments {
		if d.status == deployQueued {
			queued++
		}
	}
	if queued >= s.cfg.DeploymentQueueLimit {
		s.log.Debug("deployment queue full", "app", a.uuid)
		return deployQueueFull
	}
	commit := a.commit()
	if !o.force && !o.noQuestions {
		for _, d := range s.deployments {
			if d.app == a && d.commit == commit && d.active() {
				return deploySkipped
			}
		}
	}
	now := s.now()
	d := &deployment{id: s.id("application_deployment_queues"), uuid: uuid, app: a, status: deployQueued,
		force: o.force, restartOnly: o.restartOnly, commit: commit, created: now, updated: now}
	s.deployments = append(s.deployments, d)
	s.deployByUUID[uuid] = d
	s.stats.deployments++
	if o.noQuestions || s.nextQueuable(a) {
		s.beginDeployment(d)
	}
	return deployQueuedOK
}

// nextQueuable is next_queuable(): nothing of this app in progress and a
// free build slot on the server.
func (s *Sim) nextQueuable(a *app) bool {
	inProgress := 0
	for _, d := range s.deployments {
		if d.status != deployInProgress {
			continue
		}
		if d.app == a {
			return false
		}
		inProgress++
	}
	return inProgress < s.cfg.ConcurrentBuilds
}

// queueNext is queue_next_deployment(): after a deployment ends, every
// queued one that may run now starts, oldest first.
func (s *Sim) queueNext() {
	for _, d := range s.deployments {
		if d.status == deployQueued && s.nextQueuable(d.app) {
			s.beginDeployment(d)
		}
	}
}

// beginDeployment runs ApplicationDeploymentJob: it reads the app's image
// and environment now, pulls the image (cold the first time on the server),
// creates the new container, then swaps it in.
func (s *Sim) beginDeployment(d *deployment) {
	a := d.app
	d.status = deployInProgress
	d.updated = s.now()
	d.processID = strconv.Itoa(1000 + s.rng.IntN(60000))
	inProgress := 0
	for _, x := range s.deployments {
		if x.status == deployInProgress {
			inProgress++
		}
	}
	s.stats.maxInProgress = max(s.stats.maxInProgress, inProgress)

	image, env := a.imageRef(), a.runtimeEnv()
	a.cols["config_hash"] = a.configHash()
	d.configHash = a.cols["config_hash"]
	latency := s.knobs.warmStart
	if !s.images[image] {
		latency = s.knobs.coldStart
	}
	s.log.Debug("deployment in progress", "deployment", d.uuid, "app", a.uuid, "image", image, "latency", latency)
	s.after(time.Duration(float64(latency)*pullShare), func() {
		if d.status != deployInProgress {
			return
		}
		s.images[image] = true
		if a.next != nil {
			s.removeContainer(a.next)
		}
		d.container = s.newContainer(a, image, env)
		a.next = d.container
		s.recordStatus(a)
	})
	s.after(latency, func() {
		if d.status != deployInProgress {
			return
		}
		if c := d.container; c != nil && c.state == cCreated {
			// Rolling update: the new container runs, then the old one goes.
			old := a.cur
			a.cur, a.next = c, nil
			a.restartCount, a.lastRestartAt, a.lastRestartType = 0, time.Time{}, ""
			s.launch(c)
			if old != nil {
				s.stopContainer(old, func() {})
			}
		}
		s.endDeployment(d, deployFinished)
		s.recordStatus(a)
	})
}

// endDeployment moves d to a final status and lets the queue advance.
func (s *Sim) endDeployment(d *deployment, status string) {
	if !d.active() {
		return
	}
	wasInProgress := d.status == deployInProgress
	d.status = status
	d.updated = s.now()
	d.finished = d.updated
	if c := d.container; status != deployFinished && c != nil && c.state == cCreated {
		s.removeContainer(c)
	}
	if wasInProgress {
		s.queueNext()
	}
}

// deploymentJSON is an ApplicationDeploymentQueue row; logs need
// read:sensitive and are left out.
func (s *Sim) deploymentJSON(d *deployment) map[string]any {
	a := d.app
	var processID, jobID, worker any
	if d.status != deployQueued {
		processID, jobID, worker = d.processID, "job-"+d.uuid, "coolify"
	}
	return map[string]any{
		"id":                        d.id,
		"application_id":            strconv.Itoa(a.id),
		"deployment_uuid":           d.uuid,
		"pull_request_id":           0,
		"docker_registry_image_tag": nil,
		"force_rebuild":             d.force,
		"commit":                    d.commit,
		"commit_message":            nil,
		"status":                    d.status,
		"is_webhook":                false,
		"is_api":                    true,
		"restart_only":              d.restartOnly,
		"rollback":                  false,
		"only_this_server":          false,
		"git_type":                  nil,
		"server_id":                 0,
		"server_name":               "localhost",
		"build_server_id":           nil,
		"destination_id":            "0",
		"application_name":          a.name(),
		"deployment_url": fmt.Sprintf("/project/%s/environment/%s/application/%s/deployment/%s",
			s.cfg.ProjectUUID, s.envUUID, a.uuid, d.uuid),
		"current_process_id": processID,
		"horizon_job_id":     jobID,
		"horizon_job_worker": worker,
		"configuration_hash": d.configHash,
		"created_at":         laravelTime(d.created),
		"updated_at":         laravelTime(d.updated),
		"finished_at":        timeOrNull(d.finished),
	}
}

// visible reports whether d can be read through the API: its application
// must still belong to the team.
func (d *deployment) visible() bool { return !d.app.deleted }

// startApplication is POST /applications/{uuid}/start.
func (s *Sim) startApplication(rq *request) reply {
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found.")
	}
	uuid := randomID(s.rng)
	o := deployOptions{force: rq.boolInput("force", false), noQuestions: rq.boolInput("instant_deploy", false)}
	if s.queueDeployment(a, uuid, o) == deploySkipped {
		return message(http.StatusOK, "Deployment already queued for this commit.")
	}
	// A full queue is not reported: the uuid answered was never stored.
	return jsonReply(http.StatusOK, map[string]any{"message": "Deployment request queued.", "deployment_uuid": uuid})
}

// restartApplication is POST /applications/{uuid}/restart: a restart_only
// deployment (a new container with the current env, like start).
func (s *Sim) restartApplication(rq *request) reply {
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found.")
	}
	uuid := randomID(s.rng)
	if s.queueDeployment(a, uuid, deployOptions{restartOnly: true}) == deploySkipped {
		return message(http.StatusOK, "Deployment already queued for this commit.")
	}
	return jsonReply(http.StatusOK, map[string]any{"message": "Restart request queued.", "deployment_uuid": uuid})
}

// stopApplication is POST /applications/{uuid}/stop: it only queues the
// StopApplication job — no deployment, nothing to poll but the status.
func (s *Sim) stopApplication(rq *request) reply {
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found.")
	}
	cleanup := rq.boolInput("docker_cleanup", true)
	s.after(0, func() {
		if a.deleted {
			return
		}
		s.stopApplicationNow(a, true, func() {
			if cleanup {
				s.cleanupImages()
			}
		})
	})
	return message(http.StatusOK, "Application stopping request queued.")
}

// listDeployments is GET /deployments: only queued and in-progress ones.
func (s *Sim) listDeployments(*request) reply {
	out := []map[string]any{}
	for _, d := range s.deployments {
		if d.active() && d.visible() {
			out = append(out, s.deploymentJSON(d))
		}
	}
	return jsonReply(http.StatusOK, out)
}

// getDeployment is GET /deployments/{uuid}, any status.
func (s *Sim) getDeployment(rq *request) reply {
	d := s.deployByUUID[rq.param("uuid")]
	if d == nil || !d.visible() {
		return message(http.StatusNotFound, "Deployment not found.")
	}
	return jsonReply(http.StatusOK, s.deploymentJSON(d))
}

// cancelDeployment is POST /deployments/{uuid}/cancel (the v4.3.7 fix:
// the queue advances after a cancel).
func (s *Sim) cancelDeployment(rq *request) reply {
	d := s.deployByUUID[rq.param("uuid")]
	if d == nil || !d.visible() {
		return message(http.StatusNotFound, "Deployment not found.")
	}
	if !d.active() {
		return message(http.StatusBadRequest, "Deployment cannot be cancelled. Current status: "+d.status)
	}
	s.endDeployment(d, deployCancelled)
	s.recordStatus(d.app)
	return jsonReply(http.StatusOK, map[string]any{"message": "Deployment cancelled successfully.",
		"deployment_uuid": d.uuid, "status": deployCancelled})
}

// applicationDeployments is GET /deployments/applications/{uuid}: an
// object {count, deployments}, newest first, paged by skip/take.
func (s *Sim) applicationDeployments(rq *request) reply {
	ve := validationErrors{}
	skip := pageParam(rq, "skip", 0, 0, ve)
	take := pageParam(rq, "take", 10, 1, ve)
	if len(ve) > 0 {
		return laravelValidationFailure(ve)
	}
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found")
	}
	var mine []*deployment
	for _, d := range s.deployments {
		if d.app == a {
			mine = append(mine, d)
		}
	}
	slices.Reverse(mine) // created_at desc, id desc
	page := []map[string]any{}
	for i := skip; i < len(mine) && i < skip+take; i++ {
		page = append(page, s.deploymentJSON(mine[i]))
	}
	return jsonReply(http.StatusOK, map[string]any{"count": len(mine), "deployments": page})
}

// pageParam validates an 'integer|min:n' query parameter.
func pageParam(rq *request, name string, def, minimum int, ve validationErrors) int {
	if !rq.hasQuery(name) || rq.query(name) == "" {
		return def
	}
	n, ok := asInt(rq.query(name))
	switch {
	case !ok:
		ve.add(name, fmt.Sprintf("The %s field must be an integer.", name))
	case n < minimum:
		ve.add(name, fmt.Sprintf("The %s field must be at least %d.", name, minimum))
	default:
		return n
	}
	return def
}

// laravelValidationFailure is a ValidationException from
// $request->validate(): the first message, "(and N more errors)".
func laravelValidationFailure(ve validationErrors) reply {
	var first string
	total := 0
	for _, k := range sortedKeys(ve) {
		if first == "" {
			first = ve[k][0]
		}
		total += len(ve[k])
	}
	msg := first
	switch {
	case total == 2:
		msg += " (and 1 more error)"
	case total > 2:
		msg += fmt.Sprintf(" (and %d more errors)", total-1)
	}
	rep := jsonReply(http.StatusUnprocessableEntity, map[string]any{"message": msg, "errors": ve})
	rep.kind = byValidate
	return rep
}

// runtimeEnv is what the deployment writes into .env: the non-preview
// variables available at runtime.
func (a *app) runtimeEnv() map[string]string {
	env := map[string]string{}
	for _, e := range a.envs {
		if !e.isPreview && e.isRuntime {
			env[e.key] = strings.Clone(e.valueString())
		}
	}
	return env
}
