package coolifyspec

import "slices"

// Deviations is the table: every place where what Coolify 4.3.11 does
// (read from its source, coolify-api.md) and what our client and the
// simulator therefore send or answer is not what its OpenAPI document
// says. Patches run in this order.
//
// Checked and not deviations, so not listed (package coolify's
// TestNotDeviations keeps these claims honest): PATCH …/envs/bulk answering
// 201 (§8.4: the document declares 201 for bulk, only the single PATCH
// …/envs disagrees) and the env flags is_runtime/is_buildtime (§8.5: the
// item schema allows extra fields).
var Deviations = []Deviation{
	{
		ID:    "nullable-keyword",
		Ops:   []string{Everywhere},
		Where: "requests and responses: every field marked `nullable: true`",
		Why: "Coolify sends null in those fields (description, fqdn, docker_registry_image_tag, health_check_port, " +
			"settings.gpu_count, env comment, …); the file is OpenAPI 3.1, whose JSON Schema 2020-12 ignores 3.0's " +
			"`nullable`, and swagger-php meant type [T, null]. Not in coolify-api.md; found by these tests.",
		ProvedBy: ByClient | BySim,
		patch: func(doc map[string]any, _ []map[string]any) error {
			walkJSON(doc, func(m map[string]any) {
				if m["nullable"] == true {
					addNull(m)
					delete(m, "nullable")
				}
			})
			return nil
		},
	},
	{
		ID:    "application-null-columns",
		Ops:   []string{"GET /applications", "GET /applications/{uuid}"},
		Where: "response 200: Application.install_command, build_command, start_command, publish_directory, ports_exposes",
		Why: "null: nullable columns a docker-image application never sets (ports_exposes optional since v4.1.2); " +
			"the schema types them as strings. Inferred from Coolify's schema, found with coolifysim.",
		ProvedBy: ByClient | BySim,
		patch:    allowNull("Application", "install_command", "build_command", "start_command", "publish_directory", "ports_exposes"),
	},
	{
		ID:    "deployment-null-columns",
		Ops:   []string{"GET /deployments", "GET /deployments/{uuid}", "GET /deployments/applications/{uuid}"},
		Where: "response 200: ApplicationDeploymentQueue.commit_message, git_type, current_process_id",
		Why: "null: an image deployment has no commit message or git type, and no process until it is in progress; " +
			"the schema types them as strings.",
		ProvedBy: ByClient | BySim,
		patch:    allowNull("ApplicationDeploymentQueue", "commit_message", "git_type", "current_process_id"),
	},
	{
		ID:    "build-pack-dockerimage",
		Ops:   []string{"GET /applications", "GET /applications/{uuid}"},
		Where: "response 200: Application.build_pack",
		Why: `"dockerimage", the build pack of every application POST /applications/dockerimage creates; ` +
			"the enum lags BuildPackTypes (§8.2).",
		ProvedBy: ByClient | BySim,
		patch: func(doc map[string]any, _ []map[string]any) error {
			p := schemaProps(doc, "Application")["build_pack"].(map[string]any)
			if e := p["enum"].([]any); !slices.Contains(e, any("dockerimage")) {
				p["enum"] = append(e, "dockerimage")
			}
			return nil
		},
	},
	{
		ID:    "create-environment-name-or-uuid",
		Ops:   []string{"POST /applications/dockerimage"},
		Where: "request body: required environment_name and environment_uuid",
		Why:   "Coolify needs only one of them (§1.1, §8.1); the client sends environment_name alone.",
		// The simulator's tests validate answers only.
		ProvedBy: ByClient,
		patch: func(_ map[string]any, ops []map[string]any) error {
			s := ops[0]["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
			s["required"] = []any{"project_uuid", "server_uuid", "docker_registry_image_name"}
			s["anyOf"] = []any{
				map[string]any{"required": []any{"environment_name"}},
				map[string]any{"required": []any{"environment_uuid"}},
			}
			return nil
		},
	},
	{
		ID:       "deployments-by-application-shape",
		Ops:      []string{"GET /deployments/applications/{uuid}"},
		Where:    "response 200: the body",
		Why:      `{"count": <total>, "deployments": [ApplicationDeploymentQueue, …]}, not an array of Application (§3.3, §8.3).`,
		ProvedBy: ByClient | BySim,
		patch: func(_ map[string]any, ops []map[string]any) error {
			// The items are ApplicationDeploymentQueue (titled "Project model", §8.8).
			ops[0]["responses"].(map[string]any)["200"] = jsonResponse("Deployments of the application.", map[string]any{
				"type": "object", "required": []any{"count", "deployments"},
				"properties": map[string]any{
					"count": map[string]any{"type": "integer"},
					"deployments": map[string]any{"type": "array",
						"items": ref("#/components/schemas/ApplicationDeploymentQueue")},
				},
			})
			return nil
		},
	},
	{
		ID:    "undeclared-404",
		Ops:   []string{"POST /applications/dockerimage", "GET /deployments/applications/{uuid}"},
		Where: "response 404",
		Why: `{"message": "Project not found."} / "Environment not found." / "Server not found." on create, ` +
			`"Application not found" on deployments by application: lookups the document declares no 404 for (§1.1, §3.3, §8.6).`,
		ProvedBy: ByClient | BySim,
		patch:    declare("404", ref("#/components/responses/404")),
	},
	{
		ID: "undeclared-422",
		Ops: []string{"POST /applications/dockerimage", "PATCH /applications/{uuid}", "POST /applications/{uuid}/envs",
			"PATCH /applications/{uuid}/envs", "PATCH /applications/{uuid}/envs/bulk", "GET /deployments/applications/{uuid}"},
		Where: "response 422",
		Why: `{"message": "Validation failed.", "errors": {…}} (and bare {"message": …} 422s): validation failures ` +
			"are answered but not declared (§0.3, §8.6).",
		ProvedBy: ByClient | BySim,
		patch:    declare("422", ref("#/components/responses/422")),
	},
	{
		ID:    "422-errors-mixed-types",
		Ops:   []string{Everywhere},
		Where: "response 422: the values of errors",
		Why: `a string or a list of strings: the validator gives lists, hand-written checks a plain string ` +
			`({"errors": {"domains": "Invalid URL: x"}}); the document says lists (§0.3).`,
		ProvedBy: ByClient | BySim,
		patch: func(doc map[string]any, _ []map[string]any) error {
			r := componentResponses(doc)["422"].(map[string]any)
			errs := r["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["properties"].(map[string]any)["errors"].(map[string]any)
			errs["additionalProperties"] = map[string]any{"anyOf": []any{
				map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
				map[string]any{"type": "string"},
			}}
			return nil
		},
	},
	{
		ID:    "undeclared-429",
		Ops:   []string{Everywhere},
		Where: "response 429",
		Why: `{"message": "Too Many Attempts."} with Retry-After and X-RateLimit-* from the API throttle (200/min ` +
			"per user), which covers every route; the 429 component is declared but referenced nowhere (§0.4, §8.6).",
		ProvedBy: ByClient | BySim,
		patch:    declareEverywhere("429", ref("#/components/responses/429")),
	},
	{
		ID:    "undeclared-403",
		Ops:   []string{Everywhere},
		Where: "response 403",
		Why: "a missing ability, the API disabled, an IP not allowed or a team role refuses any call with 403; " +
			"the document declares it on a few operations only (§0.2, §8.6).",
		// The simulator has no abilities, so never answers 403.
		ProvedBy: ByClient,
		patch:    declareEverywhere("403", jsonResponse("Forbidden.", messageSchema())),
	},
	{
		ID:    "undeclared-5xx",
		Ops:   []string{Everywhere},
		Where: "response 5XX",
		Why: `500 {"message": "Server Error"} (Laravel, APP_DEBUG off) and a proxy's 502/503: servers fail, ` +
			"the document declares no 5xx (§0.3, §8.6, §9.15).",
		ProvedBy: ByClient | BySim,
		patch: func(doc map[string]any, ops []map[string]any) error {
			componentResponses(doc)["ServerError"] = jsonResponse("Server Error", messageSchema())
			return declareEverywhere("5XX", ref("#/components/responses/ServerError"))(doc, ops)
		},
	},
	{
		// After undeclared-429 and undeclared-5xx: it extends their responses.
		ID:    "html-framework-errors",
		Ops:   []string{Everywhere},
		Where: "responses 429 and 5XX: Content-Type text/html",
		Why: "an HTML error page when the request does not send Accept: application/json: Laravel renders its " +
			"exceptions as JSON only for requests that expect JSON (§0.1). The client always sends it.",
		ProvedBy: BySim,
		patch: func(doc map[string]any, _ []map[string]any) error {
			for _, name := range []string{"429", "ServerError"} {
				if r, ok := componentResponses(doc)[name].(map[string]any); ok {
					r["content"].(map[string]any)["text/html"] = map[string]any{"schema": map[string]any{"type": "string"}}
				}
			}
			return nil
		},
	},
	{
		ID:    "validate-redirect",
		Ops:   []string{"GET /deployments/applications/{uuid}"},
		Where: "response 302",
		Why: "302 back (Location: Referer or /) for an invalid skip or take when the request does not expect JSON: " +
			"$request->validate() redirects instead of answering 422 (§3.3). The client always sends Accept: application/json.",
		ProvedBy: BySim,
		patch:    declare("302", map[string]any{"description": "Validation failed (the request did not expect JSON)."}),
	},
	{
		ID:       "undeclared-409",
		Ops:      []string{"POST /applications/{uuid}/envs"},
		Where:    "response 409",
		Why:      `{"message": "Environment variable already exists. Use PATCH request to update it."} for a duplicate key (§2.2).`,
		ProvedBy: BySim,
		patch:    declare("409", jsonResponse("Conflict.", messageSchema())),
	},
}
