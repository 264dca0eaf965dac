package coolifysim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// kind is the Laravel rule a field's value must satisfy.
type kind int

const (
	kString     kind = iota // 'string'
	kStringNull             // 'string|nullable'
	kBool                   // 'boolean': true, false, 0, 1, "0", "1"
	kInt                    // 'integer'
	kIntNull                // 'integer|nullable'
	kNumeric                // 'numeric'
	kStringList             // 'array|nullable' of strings
	kAny                    // accepted as is
)

// field is one accepted request field of the application endpoints.
type field struct {
	kind kind
	// col is where the value is stored: "app.<column>", "settings.<column>",
	// or "" for request-only fields and fields an image app ignores.
	col string
	// createOnly fields are refused by PATCH (the spec lists some of them in
	// the PATCH body; the code's allow-list does not).
	createOnly bool
	// check is a further rule on a well-typed value: a message, or "".
	check func(name string, v any) string
}

var (
	imageRe    = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?/)?(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*/)*[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`)
	tagRe      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	portsRe    = regexp.MustCompile(`^\d+(,\d+)*$`)
	mappingsRe = regexp.MustCompile(`^\d+:\d+(,\d+:\d+)*$`)
	envKeyRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)
)

func maxLen(n int) func(string, any) string {
	return func(name string, v any) string {
		if s, ok := v.(string); ok && len([]rune(s)) > n {
			return fmt.Sprintf("The %s field must not be greater than %d characters.", attr(name), n)
		}
		return ""
	}
}

func matches(re *regexp.Regexp) func(string, any) string {
	return func(name string, v any) string {
		if s, ok := v.(string); ok && !re.MatchString(s) {
			return fmt.Sprintf("The %s field format is invalid.", attr(name))
		}
		return ""
	}
}

func oneOf(values ...string) func(string, any) string {
	return func(name string, v any) string {
		if s, ok := v.(string); ok && !slices.Contains(values, s) {
			return fmt.Sprintf("The selected %s is invalid.", attr(name))
		}
		return ""
	}
}

func between(lo, hi int) func(string, any) string {
	return func(name string, v any) string {
		if n, ok := v.(int); ok && (n < lo || n > hi) {
			if hi == math.MaxInt {
				return fmt.Sprintf("The %s field must be at least %d.", attr(name), lo)
			}
			return fmt.Sprintf("The %s field must be between %d and %d.", attr(name), lo, hi)
		}
		return ""
	}
}

func base64Check(name string, v any) string {
	if s, ok := v.(string); ok {
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return fmt.Sprintf("The %s should be base64 encoded.", name)
		}
	}
	return ""
}

// imageCheck is Coolify's DockerImageFormat rule: image, image:tag,
// registry/ns/image:tag or image@sha256:<64 hex>; image:sha256:... is not.
func imageCheck(name string, v any) string {
	if s, ok := v.(string); ok {
		if msg := maxLen(255)(name, v); msg != "" {
			return msg
		}
		if !imageRe.MatchString(s) {
			return fmt.Sprintf("The %s must be a valid Docker image name (e.g. nginx, nginx:alpine, ghcr.io/org/image:tag or image@sha256:<digest>).", attr(name))
		}
	}
	return ""
}

// applicationFields is the union of the dockerimage create allow-list and the
// PATCH allow-list of Coolify 4.3.11; anything else is "not allowed".
var applicationFields = map[string]field{
	// Request-only.
	"project_uuid":          {kind: kString, createOnly: true},
	"server_uuid":           {kind: kString, createOnly: true},
	"environment_name":      {kind: kStringNull, createOnly: true},
	"environment_uuid":      {kind: kStringNull, createOnly: true},
	"destination_uuid":      {kind: kString, createOnly: true},
	"type":                  {kind: kAny, createOnly: true},
	"private_key_uuid":      {kind: kAny, createOnly: true},
	"autogenerate_domain":   {kind: kBool, createOnly: true},
	"tags":                  {kind: kStringList, createOnly: true},
	"docker_compose_raw":    {kind: kStringNull, createOnly: true},
	"domains":               {kind: kStringNull},
	"instant_deploy":        {kind: kBool},
	"force_domain_override": {kind: kBool},
	"github_app_uuid":       {kind: kAny},
	// Git and build fields: accepted, meaningless for an image app.
	"git_repository":                      {kind: kString},
	"git_branch":                          {kind: kString},
	"git_commit_sha":                      {kind: kString, col: "app.git_commit_sha"},
	"build_pack":                          {kind: kString, check: oneOf("nixpacks", "railpack", "static", "dockerfile", "dockercompose", "dockerimage")},
	"install_command":                     {kind: kStringNull, col: "app.install_command"},
	"build_command":                       {kind: kStringNull, col: "app.build_command"},
	"start_command":                       {kind: kStringNull, col: "app.start_command"},
	"base_directory":                      {kind: kString, col: "app.base_directory"},
	"publish_directory":                   {kind: kStringNull, col: "app.publish_directory"},
	"static_image":                        {kind: kString, col: "app.static_image", check: oneOf("nginx:alpine")},
	"dockerfile":                          {kind: kStringNull},
	"dockerfile_location":                 {kind: kString, col: "app.dockerfile_location"},
	"dockerfile_target_build":             {kind: kStringNull, col: "app.dockerfile_target_build"},
	"docker_compose_location":             {kind: kString, col: "app.docker_compose_location"},
	"docker_compose_domains":              {kind: kAny},
	"docker_compose_custom_start_command": {kind: kStringNull, col: "app.docker_compose_custom_start_command"},
	"docker_compose_custom_build_command": {kind: kStringNull, col: "app.docker_compose_custom_build_command"},
	"watch_paths":                         {kind: kStringNull, col: "app.watch_paths"},
	"custom_nginx_configuration":          {kind: kStringNull, col: "app.custom_nginx_configuration", check: base64Check},
	// Application columns.
	"name":                              {kind: kString, col: "app.name", check: maxLen(255)},
	"description":                       {kind: kStringNull, col: "app.description"},
	"noindex_domains":                   {kind: kStringList, col: "app.noindex_domains"},
	"docker_registry_image_name":        {kind: kString, col: "app.docker_registry_image_name", check: imageCheck},
	"docker_registry_image_tag":         {kind: kStringNull, col: "app.docker_registry_image_tag", check: matches(tagRe)},
	"ports_exposes":                     {kind: kStringNull, col: "app.ports_exposes", check: matches(portsRe)},
	"ports_mappings":                    {kind: kStringNull, col: "app.ports_mappings", check: matches(mappingsRe)},
	"custom_network_aliases":            {kind: kStringNull, col: "app.custom_network_aliases"},
	"health_check_enabled":              {kind: kBool, col: "app.health_check_enabled"},
	"health_check_type":                 {kind: kString, col: "app.health_check_type", check: oneOf("http", "cmd")},
	"health_check_command":              {kind: kStringNull, col: "app.health_check_command"},
	"health_check_path":                 {kind: kString, col: "app.health_check_path"},
	"health_check_port":                 {kind: kStringNull, col: "app.health_check_port"},
	"health_check_host":                 {kind: kStringNull, col: "app.health_check_host"},
	"health_check_method":               {kind: kString, col: "app.health_check_method", check: oneOf("GET", "HEAD", "POST", "OPTIONS")},
	"health_check_return_code":          {kind: kInt, col: "app.health_check_return_code"},
	"health_check_scheme":               {kind: kString, col: "app.health_check_scheme"},
	"health_check_response_text":        {kind: kStringNull, col: "app.health_check_response_text"},
	"health_check_interval":             {kind: kInt, col: "app.health_check_interval"},
	"health_check_timeout":              {kind: kInt, col: "app.health_check_timeout"},
	"health_check_retries":              {kind: kInt, col: "app.health_check_retries"},
	"health_check_start_period":         {kind: kInt, col: "app.health_check_start_period"},
	"limits_memory":                     {kind: kString, col: "app.limits_memory"},
	"limits_memory_swap":                {kind: kString, col: "app.limits_memory_swap"},
	"limits_memory_swappiness":          {kind: kNumeric, col: "app.limits_memory_swappiness"},
	"limits_memory_reservation":         {kind: kString, col: "app.limits_memory_reservation"},
	"limits_cpus":                       {kind: kString, col: "app.limits_cpus"},
	"limits_cpuset":                     {kind: kStringNull, col: "app.limits_cpuset"},
	"limits_cpu_shares":                 {kind: kNumeric, col: "app.limits_cpu_shares"},
	"custom_labels":                     {kind: kString, col: "app.custom_labels", check: base64Check},
	"custom_docker_run_options":         {kind: kStringNull, col: "app.custom_docker_run_options", check: maxLen(2000)},
	"post_deployment_command":           {kind: kStringNull, col: "app.post_deployment_command"},
	"post_deployment_command_container": {kind: kStringNull, col: "app.post_deployment_command_container"},
	"pre_deployment_command":            {kind: kStringNull, col: "app.pre_deployment_command"},
	"pre_deployment_command_container":  {kind: kStringNull, col: "app.pre_deployment_command_container"},
	"manual_webhook_secret_github":      {kind: kStringNull, col: "app.manual_webhook_secret_github"},
	"manual_webhook_secret_gitlab":      {kind: kStringNull, col: "app.manual_webhook_secret_gitlab"},
	"manual_webhook_secret_bitbucket":   {kind: kStringNull, col: "app.manual_webhook_secret_bitbucket"},
	"manual_webhook_secret_gitea":       {kind: kStringNull, col: "app.manual_webhook_secret_gitea"},
	"redirect":                          {kind: kStringNull, col: "app.redirect", check: oneOf("www", "non-www", "both")},
	"is_http_basic_auth_enabled":        {kind: kBool, col: "app.is_http_basic_auth_enabled"},
	"http_basic_auth_username":          {kind: kStringNull, col: "app.http_basic_auth_username"},
	"http_basic_auth_password":          {kind: kStringNull, col: "app.http_basic_auth_password"},
	"preview_url_template":              {kind: kString, col: "app.preview_url_template"},
	"max_restart_count":                 {kind: kInt, col: "app.max_restart_count", check: between(0, math.MaxInt)},
	// application_settings columns.
	"is_static":                            {kind: kBool, col: "settings.is_static"},
	"is_spa":                               {kind: kBool, col: "settings.is_spa"},
	"is_auto_deploy_enabled":               {kind: kBool, col: "settings.is_auto_deploy_enabled"},
	"is_force_https_enabled":               {kind: kBool, col: "settings.is_force_https_enabled"},
	"is_preview_deployments_enabled":       {kind: kBool, col: "settings.is_preview_deployments_enabled"},
	"use_build_server":                     {kind: kBool, col: "settings.is_build_server_enabled"},
	"use_build_secrets":                    {kind: kBool, col: "settings.use_build_secrets"},
	"is_git_submodules_enabled":            {kind: kBool, col: "settings.is_git_submodules_enabled"},
	"is_git_lfs_enabled":                   {kind: kBool, col: "settings.is_git_lfs_enabled"},
	"is_git_shallow_clone_enabled":         {kind: kBool, col: "settings.is_git_shallow_clone_enabled"},
	"disable_build_cache":                  {kind: kBool, col: "settings.disable_build_cache"},
	"inject_build_args_to_dockerfile":      {kind: kBool, col: "settings.inject_build_args_to_dockerfile"},
	"include_source_commit_in_build":       {kind: kBool, col: "settings.include_source_commit_in_build"},
	"is_env_sorting_enabled":               {kind: kBool, col: "settings.is_env_sorting_enabled"},
	"is_pr_deployments_public_enabled":     {kind: kBool, col: "settings.is_pr_deployments_public_enabled"},
	"is_gzip_enabled":                      {kind: kBool, col: "settings.is_gzip_enabled"},
	"is_stripprefix_enabled":               {kind: kBool, col: "settings.is_stripprefix_enabled"},
	"is_raw_compose_deployment_enabled":    {kind: kBool, col: "settings.is_raw_compose_deployment_enabled"},
	"is_log_drain_enabled":                 {kind: kBool, col: "settings.is_log_drain_enabled"},
	"is_gpu_enabled":                       {kind: kBool, col: "settings.is_gpu_enabled"},
	"gpu_driver":                           {kind: kStringNull, col: "settings.gpu_driver"},
	"gpu_count":                            {kind: kStringNull, col: "settings.gpu_count"},
	"gpu_device_ids":                       {kind: kStringNull, col: "settings.gpu_device_ids"},
	"gpu_options":                          {kind: kStringNull, col: "settings.gpu_options"},
	"stop_grace_period":                    {kind: kIntNull, col: "settings.stop_grace_period", check: between(1, 3600)},
	"docker_images_to_keep":                {kind: kInt, col: "settings.docker_images_to_keep", check: between(0, 100)},
	"is_consistent_container_name_enabled": {kind: kBool, col: "settings.is_consistent_container_name_enabled"},
	"custom_internal_name":                 {kind: kStringNull, col: "settings.custom_internal_name"},
	"connect_to_docker_network":            {kind: kBool, col: "settings.connect_to_docker_network"},
	"is_container_label_escape_enabled":    {kind: kBool, col: "settings.is_container_label_escape_enabled"},
	"is_preserve_repository_enabled":       {kind: kBool, col: "settings.is_preserve_repository_enabled"},
}

// createFirstPass are the fields create_application() validates together
// with the allow-list, before it looks the project, environment and server
// up; the rest are validated after.
var createFirstPass = []string{"name", "description", "project_uuid", "environment_name", "environment_uuid",
	"server_uuid", "destination_uuid", "is_http_basic_auth_enabled", "http_basic_auth_username",
	"http_basic_auth_password", "autogenerate_domain"}

// validationErrors is Laravel's MessageBag: field -> messages.
type validationErrors map[string][]string

func (ve validationErrors) add(field, msg string) { ve[field] = append(ve[field], msg) }

// reply is the controllers' 422.
func (ve validationErrors) reply() reply {
	return jsonReply(http.StatusUnprocessableEntity, map[string]any{"message": "Validation failed.", "errors": ve})
}

// attr is how Laravel names a field in messages: snake_case as words.
func attr(name string) string { return strings.ReplaceAll(name, "_", " ") }

// coerce checks v against a kind and returns the value Coolify would store.
func coerce(name string, k kind, v any) (any, string) {
	switch k {
	case kAny:
		return v, ""
	case kStringNull, kIntNull, kStringList:
		if v == nil {
			return nil, ""
		}
	}
	switch k {
	case kString, kStringNull:
		if s, ok := v.(string); ok {
			return s, ""
		}
		return nil, fmt.Sprintf("The %s field must be a string.", attr(name))
	case kBool:
		switch v := v.(type) {
		case bool:
			return v, ""
		case json.Number, string:
			switch fmt.Sprint(v) {
			case "0":
				return false, ""
			case "1":
				return true, ""
			}
		}
		return nil, fmt.Sprintf("The %s field must be true or false.", attr(name))
	case kInt, kIntNull:
		if n, ok := asInt(v); ok {
			return n, ""
		}
		return nil, fmt.Sprintf("The %s field must be an integer.", attr(name))
	case kNumeric:
		if f, ok := asNumber(v); ok {
			if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return int(f), ""
			}
			return f, ""
		}
		return nil, fmt.Sprintf("The %s field must be a number.", attr(name))
	case kStringList:
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Sprintf("The %s field must be an array.", attr(name))
		}
		out := make([]string, 0, len(list))
		for _, x := range list {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Sprintf("The %s field must be an array of strings.", attr(name))
			}
			out = append(out, s)
		}
		return out, ""
	}
	return v, ""
}

func asInt(v any) (int, bool) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	default:
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	// PHP's FILTER_VALIDATE_INT takes 5.0 (json_decode makes it a float).
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 && !strings.ContainsAny(s, "eE") {
		return int(f), true
	}
	return 0, false
}

func asNumber(v any) (float64, bool) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

// validateFields checks the named fields present in body, stores the
// coerced values into out and adds messages to ve.
func validateFields(body map[string]any, names []string, out map[string]any, ve validationErrors) {
	for _, name := range names {
		v, present := body[name]
		if !present {
			continue
		}
		f := applicationFields[name]
		cv, msg := coerce(name, f.kind, v)
		if msg == "" && f.check != nil && cv != nil {
			msg = f.check(name, cv)
		}
		if msg != "" {
			ve.add(name, msg)
			continue
		}
		out[name] = cv
	}
}

// notAllowed adds "This field is not allowed." for every field of body
// outside the allow-list.
func notAllowed(body map[string]any, allowed func(string) bool, ve validationErrors) {
	for _, name := range sortedKeys(body) {
		if !allowed(name) {
			ve.add(name, "This field is not allowed.")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// jsonBody is validateIncomingRequest(): the body must be declared JSON,
// decode to something truthy and not be empty. It returns the body as
// Laravel's input bag (a list or scalar becomes "0", "1", ... keys), after
// Laravel's global TrimStrings and ConvertEmptyStringsToNull middleware.
func (rq *request) jsonBody() (map[string]any, *reply) {
	if !isJSONContentType(rq.r.Header.Get("Content-Type")) {
		rep := jsonReply(http.StatusBadRequest, map[string]any{"message": "Invalid request.", "error": "Content-Type must be application/json."})
		return nil, &rep
	}
	v, ok := decodeJSON(rq.body)
	if !ok || !phpTruthy(v) {
		rep := jsonReply(http.StatusBadRequest, map[string]any{"message": "Invalid request.", "error": "Invalid JSON."})
		return nil, &rep
	}
	bag := inputBag(v)
	if len(bag) == 0 {
		rep := jsonReply(http.StatusBadRequest, map[string]any{"message": "Invalid request.", "error": "Empty JSON."})
		return nil, &rep
	}
	return bag, nil
}

// input is the request's input without the content checks (handlers that
// skip validateIncomingRequest): the JSON body if it is one, else empty.
func (rq *request) input() map[string]any {
	if !isJSONContentType(rq.r.Header.Get("Content-Type")) {
		return map[string]any{}
	}
	v, ok := decodeJSON(rq.body)
	if !ok {
		return map[string]any{}
	}
	return inputBag(v)
}

// boolInput is Laravel's $request->boolean(): query string or body, true
// for "1", "true", "on", "yes".
func (rq *request) boolInput(name string, def bool) bool {
	var v any
	if rq.hasQuery(name) {
		v = rq.query(name)
	} else if b, ok := rq.input()[name]; ok {
		v = b
	} else {
		return def
	}
	switch v := v.(type) {
	case bool:
		return v
	case nil:
		return false
	default:
		switch strings.ToLower(fmt.Sprint(v)) {
		case "1", "true", "on", "yes":
			return true
		}
		return false
	}
}

func isJSONContentType(ct string) bool {
	return strings.Contains(ct, "/json") || strings.Contains(ct, "+json")
}

func decodeJSON(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if dec.More() {
		return nil, false
	}
	return v, true
}

// phpTruthy is whether json_decode()'s result is truthy in PHP: empty
// arrays, "", "0", 0, false and null are not; objects always are.
func phpTruthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != "" && v != "0"
	case json.Number:
		f, err := v.Float64()
		return err == nil && f != 0
	case []any:
		return len(v) > 0
	}
	return true
}

func inputBag(v any) map[string]any {
	out := map[string]any{}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			out[k] = cleanInput(x)
		}
	case []any:
		for i, x := range v {
			out[strconv.Itoa(i)] = cleanInput(x)
		}
	default:
		out["0"] = cleanInput(v)
	}
	return out
}

// cleanInput is TrimStrings + ConvertEmptyStringsToNull, recursively.
func cleanInput(v any) any {
	switch v := v.(type) {
	case string:
		if t := strings.TrimSpace(v); t != "" {
			return t
		}
		return nil
	case []any:
		for i := range v {
			v[i] = cleanInput(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = cleanInput(v[k])
		}
	}
	return v
}
