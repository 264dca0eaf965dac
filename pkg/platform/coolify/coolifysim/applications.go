package coolifysim

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// app is one Coolify application of build pack "dockerimage".
type app struct {
	id       int
	uuid     string
	cols     map[string]any // applications row as serialised (without id and computed fields)
	settings map[string]any // application_settings row
	tags     []string
	envs     []*envVar
	created  time.Time
	updated  time.Time

	// cur is the app's container; next the one a deployment in progress is
	// creating (a rolling update runs both for a moment).
	cur, next *container
	// Restart tracking as Coolify's status job records it.
	restartCount    int
	lastRestartAt   time.Time
	lastRestartType string
	history         statusHistory
	lastExitCode    *int

	deleting bool // a delete job is queued
	deleted  bool // the delete job ran: the row is gone
	starts   int  // workload launches, restarts included
}

func (a *app) name() string { return str(a.cols["name"]) }

func str(v any) string {
	s, _ := v.(string)
	return s
}

// maxRestartCount is the restart limit; 0 disables it.
func (a *app) maxRestartCount() int {
	n, _ := a.cols["max_restart_count"].(int)
	return n
}

// stopGrace is docker stop's -t: stop_grace_period, default 30 s.
func (a *app) stopGrace() time.Duration {
	if n, ok := a.settings["stop_grace_period"].(int); ok && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 30 * time.Second
}

// imageRef is the image a deployment pulls: name:tag (latest when unset),
// or name@sha256:<digest> as DockerImageParser stores digests.
func (a *app) imageRef() string {
	name, tag := str(a.cols["docker_registry_image_name"]), str(a.cols["docker_registry_image_tag"])
	if strings.HasSuffix(name, "@sha256") {
		return name + ":" + tag
	}
	if tag == "" {
		tag = "latest"
	}
	return name + ":" + tag
}

// commit is what deployments are de-duplicated by: git_commit_sha, HEAD for
// image apps.
func (a *app) commit() string {
	if c := str(a.cols["git_commit_sha"]); c != "" {
		return c
	}
	return "HEAD"
}

// fqdns lists the app's domains.
func (a *app) fqdns() []string { return splitDomains(str(a.cols["fqdn"])) }

func splitDomains(s string) []string {
	var out []string
	for d := range strings.SplitSeq(s, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// configHash is config_hash: an md5 of what a deployment depends on.
func (a *app) configHash() string {
	b, _ := json.Marshal([]any{a.imageRef(), a.cols["ports_exposes"], a.cols["custom_docker_run_options"], a.runtimeEnv()})
	sum := md5.Sum(b) // Coolify's config_hash is an md5: it identifies, it does not protect
	return hex.EncodeToString(sum[:])
}

// newApplicationColumns is the applications row of a fresh dockerimage app:
// the database defaults plus the placeholders create_application() sets.
func newApplicationColumns() map[string]any {
	return map[string]any{
		"repository_project_id": nil, "name": "", "description": nil, "fqdn": nil, "noindex_domains": nil,
		"config_hash": nil, "git_repository": "coollabsio/coolify", "git_branch": "main", "git_commit_sha": "HEAD",
		"git_full_url": nil, "docker_registry_image_name": nil, "docker_registry_image_tag": nil,
		"build_pack": "dockerimage", "static_image": "nginx:alpine", "install_command": nil, "build_command": nil,
		"start_command": nil, "ports_exposes": nil, "ports_mappings": nil, "custom_network_aliases": nil,
		"base_directory": "/", "publish_directory": nil,
		"health_check_enabled": false, "health_check_path": "/", "health_check_port": nil,
		"health_check_host": "localhost", "health_check_method": "GET", "health_check_return_code": 200,
		"health_check_scheme": "http", "health_check_response_text": nil, "health_check_interval": 5,
		"health_check_timeout": 5, "health_check_retries": 10, "health_check_start_period": 5,
		"health_check_type": "http", "health_check_command": nil,
		"limits_memory": "0", "limits_memory_swap": "0", "limits_memory_swappiness": 60,
		"limits_memory_reservation": "0", "limits_cpus": "0", "limits_cpuset": "0", "limits_cpu_shares": 1024,
		"preview_url_template": "{{pr_id}}.{{domain}}", "max_restart_count": 10,
		"destination_type": `App\Models\StandaloneDocker`, "destination_id": 0, "source_type": nil, "source_id": nil,
		"private_key_id": nil, "environment_id": 1, "dockerfile": nil, "dockerfile_location": "/Dockerfile",
		"custom_labels": nil, "dockerfile_target_build": nil,
		"manual_webhook_secret_github": nil, "manual_webhook_secret_gitlab": nil,
		"manual_webhook_secret_bitbucket": nil, "manual_webhook_secret_gitea": nil,
		"docker_compose_location": "/docker-compose.yaml", "docker_compose": nil, "docker_compose_raw": nil,
		"docker_compose_domains": nil, "docker_compose_custom_start_command": nil,
		"docker_compose_custom_build_command": nil, "swarm_replicas": 1, "swarm_placement_constraints": nil,
		"custom_docker_run_options": nil, "post_deployment_command": nil, "post_deployment_command_container": nil,
		"pre_deployment_command": nil, "pre_deployment_command_container": nil, "watch_paths": nil,
		"custom_healthcheck_found": false, "redirect": "both", "compose_parsing_version": "5",
		"custom_nginx_configuration": nil, "is_http_basic_auth_enabled": false, "http_basic_auth_username": nil,
		"http_basic_auth_password": nil,
	}
}

// newApplicationSettings is the application_settings row's defaults.
func newApplicationSettings() map[string]any {
	return map[string]any{
		"is_static": false, "is_git_submodules_enabled": true, "is_git_lfs_enabled": true,
		"is_auto_deploy_enabled": true, "is_force_https_enabled": true, "is_debug_enabled": false,
		"is_preview_deployments_enabled": false, "is_log_drain_enabled": false, "is_gpu_enabled": false,
		"gpu_driver": "nvidia", "gpu_count": nil, "gpu_device_ids": nil, "gpu_options": nil,
		"is_include_timestamps": false, "is_swarm_only_worker_nodes": true,
		"is_raw_compose_deployment_enabled": false, "is_build_server_enabled": false,
		"is_consistent_container_name_enabled": false, "is_gzip_enabled": true, "is_stripprefix_enabled": true,
		"connect_to_docker_network": false, "custom_internal_name": nil, "is_container_label_escape_enabled": true,
		"is_env_sorting_enabled": false, "is_container_label_readonly_enabled": true,
		"is_preserve_repository_enabled": false, "disable_build_cache": false, "is_spa": false,
		"is_git_shallow_clone_enabled": true, "is_pr_deployments_public_enabled": false,
		"use_build_secrets": false, "inject_build_args_to_dockerfile": true,
		"include_source_commit_in_build": false, "docker_images_to_keep": 2, "stop_grace_period": nil,
	}
}

// hiddenColumns are made hidden by removeSensitiveData() for a token
// without read:sensitive (the simulator's never has it).
var hiddenColumns = []string{"custom_labels", "dockerfile", "docker_compose", "docker_compose_raw",
	"manual_webhook_secret_bitbucket", "manual_webhook_secret_gitea", "manual_webhook_secret_github",
	"manual_webhook_secret_gitlab", "private_key_id", "http_basic_auth_password"}

// applicationJSON is an application as GET shows it: status and restart
// counters as of now-StatusLag.
func (s *Sim) applicationJSON(a *app, withSettings bool) apiObject {
	o := apiObject{}
	maps.Copy(o, a.cols)
	for _, h := range hiddenColumns {
		delete(o, h)
	}
	seen := s.now().Add(-s.knobs.statusLag)
	obs := a.history.at(seen)
	o["uuid"] = a.uuid
	o["status"] = obs.status
	o["restart_count"] = obs.restartCount
	o["last_restart_at"] = timeOrNull(obs.lastRestartAt)
	o["last_restart_type"] = nilIfEmpty(obs.lastRestartType)
	o["last_online_at"] = laravelTime(maxTime(seen, a.created))
	o["server_status"] = true
	o["created_at"] = laravelTime(a.created)
	o["updated_at"] = laravelTime(a.updated)
	o["deleted_at"] = nil
	if withSettings {
		st := apiObject{}
		maps.Copy(st, a.settings)
		st["id"] = a.id
		st["application_id"] = a.id
		st["created_at"] = laravelTime(a.created)
		st["updated_at"] = laravelTime(a.updated)
		o["settings"] = st
	}
	return o
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// liveApp finds an application of the team; one whose delete job ran is
// gone.
func (s *Sim) liveApp(uuid string) *app { return s.apps[uuid] }

// listApplications is GET /applications[?tag=]: every application of the
// team ordered by name, no pagination.
func (s *Sim) listApplications(rq *request) reply {
	tag := rq.query("tag")
	list := make([]*app, 0, len(s.apps))
	for _, a := range s.apps {
		if rq.hasQuery("tag") && !slices.Contains(a.tags, tag) {
			continue
		}
		list = append(list, a)
	}
	slices.SortFunc(list, func(x, y *app) int {
		if c := strings.Compare(x.name(), y.name()); c != 0 {
			return c
		}
		return x.id - y.id
	})
	out := make([]apiObject, len(list))
	for i, a := range list {
		out[i] = s.applicationJSON(a, false)
	}
	return jsonReply(http.StatusOK, out)
}

// getApplication is GET /applications/{uuid}, with the settings relation.
func (s *Sim) getApplication(rq *request) reply {
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found.")
	}
	return jsonReply(http.StatusOK, s.applicationJSON(a, true))
}

// createDockerImage is POST /applications/dockerimage, in
// create_application()'s order: body checks, allow-list and basic rules,
// environment presence, project/environment/server lookups, image rules,
// domains; nothing runs unless instant_deploy.
func (s *Sim) createDockerImage(rq *request) reply {
	body, bad := rq.jsonBody()
	if bad != nil {
		return *bad
	}
	ve := validationErrors{}
	vals := map[string]any{}
	validateFields(body, createFirstPass, vals, ve)
	for _, req := range []string{"project_uuid", "server_uuid"} {
		if body[req] == nil {
			delete(ve, req)
			ve.add(req, fmt.Sprintf("The %s field is required.", attr(req)))
		}
	}
	notAllowed(body, func(name string) bool { _, ok := applicationFields[name]; return ok }, ve)
	if len(ve) > 0 {
		return ve.reply()
	}
	envName, envUUID := str(vals["environment_name"]), str(vals["environment_uuid"])
	if envName == "" && envUUID == "" {
		return message(http.StatusUnprocessableEntity, "You need to provide at least one of environment_name or environment_uuid.")
	}
	if vals["project_uuid"] != s.cfg.ProjectUUID {
		return message(http.StatusNotFound, "Project not found.")
	}
	if envName != s.cfg.EnvironmentName && envUUID != s.envUUID {
		return message(http.StatusNotFound, "Environment not found.")
	}
	if vals["server_uuid"] != s.cfg.ServerUUID {
		return message(http.StatusNotFound, "Server not found.")
	}
	// The server has exactly one destination: destination_uuid is ignored.

	var rest []string
	for _, name := range sortedKeys(body) {
		if !slices.Contains(createFirstPass, name) {
			rest = append(rest, name)
		}
	}
	validateFields(body, rest, vals, ve)
	if body["docker_registry_image_name"] == nil {
		delete(ve, "docker_registry_image_name")
		ve.add("docker_registry_image_name", "The docker registry image name field is required.")
	}
	tags, tagErr := normaliseTags(vals["tags"])
	if tagErr != "" {
		ve.add("tags", tagErr)
	}
	if len(ve) > 0 {
		return ve.reply()
	}
	if rep := s.checkDomains(nil, vals); rep != nil {
		return *rep
	}

	now := s.now()
	a := &app{id: s.id("applications"), uuid: randomID(s.rng), cols: newApplicationColumns(),
		settings: newApplicationSettings(), created: now, updated: now}
	a.cols["name"] = "docker-image-" + randomID(s.rng)
	applyFields(a, vals)
	// DockerImageParser: a tag or digest given in the name is split off.
	name, tag := splitImage(str(a.cols["docker_registry_image_name"]))
	a.cols["docker_registry_image_name"] = name
	if tag != "" && (vals["docker_registry_image_tag"] == nil || strings.HasSuffix(name, "@sha256")) {
		a.cols["docker_registry_image_tag"] = tag
	}
	if _, ok := vals["domains"]; ok {
		a.cols["fqdn"] = vals["domains"]
	}
	if auto, ok := vals["autogenerate_domain"].(bool); (!ok || auto) && a.cols["fqdn"] == nil {
		a.cols["fqdn"] = "http://" + a.uuid + ".127.0.0.1.sslip.io"
	}
	a.tags = tags
	a.cols["config_hash"] = a.configHash()
	a.history.record(observation{at: now, status: statusExited}, 0)
	s.apps[a.uuid] = a
	s.log.Debug("application created", "uuid", a.uuid, "name", a.name(), "image", a.imageRef())

	if instant, _ := vals["instant_deploy"].(bool); instant {
		// no_questions_asked: past the de-dup and concurrency checks; a full
		// queue is ignored and the 201 still answered.
		s.queueDeployment(a, randomID(s.rng), deployOptions{noQuestions: true})
	}
	return jsonReply(http.StatusCreated, apiObject{"uuid": a.uuid, "domains": a.cols["fqdn"]})
}

// updateApplication is PATCH /applications/{uuid}: stored now, applied by
// the next deployment.
func (s *Sim) updateApplication(rq *request) reply {
	body, bad := rq.jsonBody()
	if bad != nil {
		return *bad
	}
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found")
	}
	ve := validationErrors{}
	vals := map[string]any{}
	notAllowed(body, func(name string) bool {
		f, ok := applicationFields[name]
		return ok && !f.createOnly
	}, ve)
	var names []string
	for _, name := range sortedKeys(body) {
		if f, ok := applicationFields[name]; ok && !f.createOnly {
			names = append(names, name)
		}
	}
	validateFields(body, names, vals, ve)
	if len(ve) > 0 {
		return ve.reply()
	}
	if rep := s.checkDomains(a, vals); rep != nil {
		return *rep
	}
	applyFields(a, vals)
	if d, ok := vals["domains"]; ok {
		a.cols["fqdn"] = d
	}
	a.updated = s.now()
	if instant, _ := vals["instant_deploy"].(bool); instant {
		// A normal deployment: de-duplicated, queued behind the limit, and
		// silently dropped when the queue is full.
		if s.queueDeployment(a, randomID(s.rng), deployOptions{}) == deploySkipped {
			return message(http.StatusOK, "Deployment already queued for this commit.")
		}
	}
	return jsonReply(http.StatusOK, apiObject{"uuid": a.uuid})
}

// deleteApplication is DELETE /applications/{uuid}: only queues the delete
// job; GET keeps answering 200 until it has run.
func (s *Sim) deleteApplication(rq *request) reply {
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found")
	}
	cleanup := rq.boolInput("docker_cleanup", true)
	a.deleting = true
	s.after(s.cfg.DeleteDelay, func() { s.runDeleteJob(a, cleanup) })
	return message(http.StatusOK, "Application deletion request queued.")
}

// runDeleteJob is DeleteResourceJob: StopApplication, then the row and its
// env vars go; deployments still queued or running fail.
func (s *Sim) runDeleteJob(a *app, dockerCleanup bool) {
	if a.deleted {
		return // a second job finds nothing
	}
	s.stopApplicationNow(a, false, func() {
		if a.deleted {
			return
		}
		a.deleted = true
		delete(s.apps, a.uuid)
		s.gone = append(s.gone, a)
		for _, d := range s.deployments {
			if d.app == a && d.active() {
				s.endDeployment(d, deployFailed)
			}
		}
		if dockerCleanup {
			s.cleanupImages()
		}
		s.queueNext()
		s.log.Debug("application deleted", "uuid", a.uuid)
	})
}

// applyFields stores validated values into the row and its settings.
func applyFields(a *app, vals map[string]any) {
	for name, v := range vals {
		col := applicationFields[name].col
		if c, ok := strings.CutPrefix(col, "app."); ok {
			a.cols[c] = v
		} else if c, ok := strings.CutPrefix(col, "settings."); ok {
			a.settings[c] = v
		}
	}
}

// splitImage is DockerImageParser: "img:tag" -> ("img", "tag"),
// "img@sha256:<hex>" -> ("img@sha256", "<hex>"), a registry port kept.
func splitImage(ref string) (name, tag string) {
	if base, digest, ok := strings.Cut(ref, "@sha256:"); ok {
		return base + "@sha256", digest
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// normaliseTags is the create's tag handling: strtolower(trim(strip_tags())),
// each at least two characters, duplicates once.
func normaliseTags(v any) ([]string, string) {
	list, _ := v.([]string)
	var out []string
	for _, t := range list {
		t = strings.ToLower(strings.TrimSpace(stripTags(t)))
		if len([]rune(t)) < 2 {
			return nil, "Tag names must be at least 2 characters long."
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, ""
}

// stripTags removes anything between < and >, as PHP's strip_tags does for
// well-formed markup.
func stripTags(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '<':
			depth++
		case r == '>' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// checkDomains validates domains and refuses ones another application uses
// (409) unless force_domain_override.
func (s *Sim) checkDomains(self *app, vals map[string]any) *reply {
	domains := splitDomains(str(vals["domains"]))
	for _, d := range domains {
		u, err := url.Parse(d)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// A hand-written error: the value is a string, not a list.
			rep := jsonReply(http.StatusUnprocessableEntity, map[string]any{"message": "Validation failed.",
				"errors": map[string]any{"domains": "Invalid URL: " + d}})
			return &rep
		}
	}
	if force, _ := vals["force_domain_override"].(bool); force {
		return nil
	}
	var conflicts []map[string]any
	for _, d := range domains {
		for _, other := range s.apps {
			if other == self || !slices.Contains(other.fqdns(), d) {
				continue
			}
			conflicts = append(conflicts, map[string]any{"domain": hostOf(d), "resource_name": other.name(),
				"resource_uuid": other.uuid, "resource_type": "application",
				"message": fmt.Sprintf("Domain %s is already in use by application '%s'", hostOf(d), other.name())})
		}
	}
	if len(conflicts) == 0 {
		return nil
	}
	rep := jsonReply(http.StatusConflict, map[string]any{
		"message":   "Domain conflicts detected. Use force_domain_override=true to proceed.",
		"conflicts": conflicts,
		"warning":   "Using the same domain for multiple resources can cause routing conflicts and unpredictable behavior.",
	})
	return &rep
}

func hostOf(d string) string {
	if u, err := url.Parse(d); err == nil && u.Host != "" {
		return u.Host
	}
	return d
}
