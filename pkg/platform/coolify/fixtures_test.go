package coolify

// Bodies as Coolify 4.3.11 sends them (coolify-api.md §1–3): key order as
// serializeApiResponse writes it, nulls where Coolify has no value, and
// fields the client ignores, so decoding is tested against the real shape.

const (
	testToken   = "7|s3cr3tT0k3nV4lu3ThatMustNeverLeak"
	appUUID     = "k8w0c4so4kgc0gk8s8o4wc0w"
	deployUUID  = "x0g8kskw4c8wokk00w4ksc48"
	projectUUID = "ps04o4ks0wwkgws8c00gc0wc"
	serverUUID  = "qo0o8wkg4ockc8k8ss4cosc4"
)

// appJSON is GET /applications/{uuid}: with settings, a destination object
// and server_status appended by the API.
const appJSON = `{
  "uuid": "k8w0c4so4kgc0gk8s8o4wc0w",
  "description": null,
  "name": "meeboter-slot-zoom-01",
  "additional_servers": [],
  "base_directory": "/",
  "build_command": null,
  "build_pack": "dockerimage",
  "config_hash": "5f1d3c9a2b7e4f60a1c2d3e4f5061728",
  "custom_docker_run_options": "--shm-size=2g",
  "destination": {"uuid": "hc8s0kg4ogc0wc4gs4kw0ok8", "name": "coolify", "network": "coolify",
    "server": {"uuid": "qo0o8wkg4ockc8k8ss4cosc4", "name": "localhost", "ip": "host.docker.internal"}},
  "destination_id": 1,
  "destination_type": "App\\Models\\StandaloneDocker",
  "docker_registry_image_name": "ghcr.io/meeboter/bot",
  "docker_registry_image_tag": "1.4.2",
  "environment_id": 1,
  "fqdn": null,
  "git_branch": "main",
  "git_commit_sha": "HEAD",
  "git_repository": "coollabsio/coolify",
  "health_check_enabled": false,
  "health_check_path": "/",
  "health_check_port": null,
  "install_command": null,
  "last_online_at": "2026-08-22T10:15:02.000000Z",
  "last_restart_at": null,
  "last_restart_type": null,
  "limits_cpus": "1.5",
  "limits_memory": "2g",
  "max_restart_count": 0,
  "ports_exposes": "3000",
  "ports_mappings": null,
  "publish_directory": null,
  "restart_count": 2,
  "server_status": true,
  "settings": {"is_consistent_container_name_enabled": false, "is_container_label_escape_enabled": true,
    "docker_images_to_keep": 2, "stop_grace_period": null, "gpu_count": null},
  "start_command": null,
  "status": "running:unknown",
  "created_at": "2026-08-22T09:58:11.000000Z",
  "updated_at": "2026-08-22T10:15:02.000000Z"
}`

// appListJSON is GET /applications?tag=…: no settings relation.
const appListJSON = `[{
  "uuid": "k8w0c4so4kgc0gk8s8o4wc0w",
  "description": "meeboter pool slot",
  "name": "meeboter-slot-zoom-01",
  "build_pack": "dockerimage",
  "docker_registry_image_name": "ghcr.io/meeboter/bot",
  "docker_registry_image_tag": null,
  "fqdn": null,
  "last_online_at": null,
  "limits_cpus": "0",
  "limits_memory": "0",
  "max_restart_count": 10,
  "ports_exposes": "3000",
  "restart_count": 0,
  "server_status": true,
  "status": "exited:unhealthy",
  "created_at": "2026-08-22T09:58:11.000000Z",
  "updated_at": "2026-08-22T09:58:11.000000Z"
}, {
  "uuid": "w4k0gso8cc4wg0ws0ccwsc8g",
  "description": null,
  "name": "meeboter-slot-zoom-02",
  "build_pack": "dockerimage",
  "docker_registry_image_name": "ghcr.io/meeboter/bot",
  "docker_registry_image_tag": "1.4.2",
  "fqdn": null,
  "last_online_at": "2026-08-22T10:15:02.000000Z",
  "last_restart_at": "2026-08-22T10:14:40.000000Z",
  "last_restart_type": "crash",
  "limits_cpus": "1.5",
  "limits_memory": "2g",
  "max_restart_count": 0,
  "ports_exposes": "3000",
  "restart_count": 3,
  "server_status": true,
  "status": "degraded:unhealthy",
  "created_at": "2026-08-22T09:58:12.000000Z",
  "updated_at": "2026-08-22T10:15:02.000000Z"
}]`

// deploymentsJSON is GET /deployments/applications/{uuid}: an object, newest
// first; application_id and destination_id are strings.
const deploymentsJSON = `{"count": 7, "deployments": [{
  "id": 41, "application_id": "12", "deployment_uuid": "x0g8kskw4c8wokk00w4ksc48", "pull_request_id": 0,
  "docker_registry_image_tag": null, "force_rebuild": false, "commit": "HEAD", "commit_message": null,
  "git_type": null, "status": "in_progress",
  "is_webhook": false, "is_api": true, "restart_only": false, "rollback": false, "only_this_server": false,
  "server_id": 0, "server_name": "localhost", "build_server_id": null, "destination_id": "0",
  "application_name": "meeboter-slot-zoom-01",
  "deployment_url": "/project/ps04o4ks0wwkgws8c00gc0wc/environment/o8c0kwwc4sw8o8k4kgkg4o0c/application/k8w0c4so4kgc0gk8s8o4wc0w/deployment/x0g8kskw4c8wokk00w4ksc48",
  "horizon_job_id": "8f3c2a10-5b7e-4d4e-9c1a-2b3c4d5e6f70", "horizon_job_worker": "coolify-horizon-1",
  "configuration_hash": null,
  "created_at": "2026-08-22T10:20:00.000000Z", "updated_at": "2026-08-22T10:20:01.000000Z", "finished_at": null
}, {
  "id": 40, "application_id": "12", "deployment_uuid": "c4g04wgsk0o8c8gksw8ocwkg", "pull_request_id": 0,
  "docker_registry_image_tag": null, "force_rebuild": false, "commit": "HEAD", "status": "finished",
  "is_webhook": false, "is_api": true, "restart_only": false, "rollback": false, "only_this_server": false,
  "server_id": 0, "server_name": "localhost", "build_server_id": null, "destination_id": "0",
  "application_name": "meeboter-slot-zoom-01",
  "deployment_url": "/project/ps04o4ks0wwkgws8c00gc0wc/environment/o8c0kwwc4sw8o8k4kgkg4o0c/application/k8w0c4so4kgc0gk8s8o4wc0w/deployment/c4g04wgsk0o8c8gksw8ocwkg",
  "horizon_job_id": "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b", "horizon_job_worker": "coolify-horizon-1",
  "configuration_hash": "5f1d3c9a2b7e4f60a1c2d3e4f5061728",
  "created_at": "2026-08-22T09:59:00.000000Z", "updated_at": "2026-08-22T10:01:30.000000Z",
  "finished_at": "2026-08-22T10:01:30.000000Z"
}]}`

// envsBulkJSON is the 201 answer of PATCH …/envs/bulk for a token without
// read:sensitive: value and real_value are left out.
const envsBulkJSON = `[{
  "uuid": "s8gkc4wk0co8kk0wg8ssk4gs", "key": "POOL_SLOT_UUID", "comment": null,
  "is_buildpack_control": false, "is_buildtime": false, "is_coolify": false, "is_literal": true,
  "is_multiline": false, "is_preview": false, "is_really_required": false, "is_required": false,
  "is_runtime": true, "is_shared": false, "is_shown_once": false, "order": null, "version": "4.3.11",
  "created_at": "2026-08-22T10:00:00.000000Z", "updated_at": "2026-08-22T10:00:00.000000Z"
}]`

const (
	createdJSON         = `{"uuid": "k8w0c4so4kgc0gk8s8o4wc0w", "domains": null}`
	updatedJSON         = `{"uuid": "k8w0c4so4kgc0gk8s8o4wc0w"}`
	deleteQueuedJSON    = `{"message": "Application deletion request queued."}`
	startQueuedJSON     = `{"message": "Deployment request queued.", "deployment_uuid": "x0g8kskw4c8wokk00w4ksc48"}`
	startSkippedJSON    = `{"message": "Deployment already queued for this commit."}`
	stopQueuedJSON      = `{"message": "Application stopping request queued."}`
	unauthenticatedJSON = `{"message": "Unauthenticated."}`
	forbiddenJSON       = `{"message": "Missing required permissions: deploy"}`
	appNotFoundJSON     = `{"message": "Application not found."}`
	// PATCH, DELETE and deployments-by-app say it without the full stop.
	appNotFoundNoDotJSON = `{"message": "Application not found"}`
	badContentTypeJSON   = `{"message": "Invalid request.", "error": "Content-Type must be application/json."}`
	conflictJSON         = `{"message": "Domain conflicts detected. Use force_domain_override=true to proceed.",
  "conflicts": [{"domain": "bot.example.com", "resource_name": "other", "resource_uuid": "w4k0gso8cc4wg0ws0ccwsc8g",
    "resource_type": "application", "message": "Domain bot.example.com is already in use by application 'other'"}],
  "warning": "Using the same domain for multiple resources can cause routing conflicts and unpredictable behavior."}`
	// validationJSON mixes the validator's lists with a hand-written string.
	validationJSON = `{"message": "Validation failed.", "errors": {
  "docker_registry_image_name": ["The docker registry image name field is required."],
  "destination_uuid": "Provided destination_uuid does not belong to the specified server.",
  "is_build_time": ["This field is not allowed."]}}`
	tooManyJSON     = `{"message": "Too Many Attempts."}`
	serverErrorJSON = `{"message": "Server Error"}`
)
