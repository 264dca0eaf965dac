package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultMetricsAddr is where /metrics is served unless METRICS_ADDR says
// otherwise: loopback, for a Prometheus (or agent) on the same host.
const DefaultMetricsAddr = "127.0.0.1:9464"

// Platforms the controller can deploy to.
const (
	PlatformAuto  = "auto"
	PlatformLocal = "local"
)

// Config is the controller's configuration.
type Config struct {
	DatabaseURL string
	// DatabaseMaxConns bounds serve's connections to the database.
	DatabaseMaxConns int
	HTTPAddr         string
	// PublicURL is the base URL bots call back.
	PublicURL string
	// Platforms are the deployment platforms in priority order (one unless
	// PLATFORM_PRIORITY lists several); Platform is the first.
	// PlatformReason says why (auto-detection logs it).
	Platforms      []string
	Platform       string
	PlatformReason string

	HeartbeatTimeout time.Duration
	DeployTimeout    time.Duration
	LeaveTimeout     time.Duration
	MaxBotLifetime   time.Duration
	QueueTimeout     time.Duration
	// JoinLeadTime is the least a scheduled bot is admitted before its
	// join_at, whatever the platforms' lead times.
	JoinLeadTime time.Duration
	// LeadFloors are the per-platform minimum lead times (the lead used
	// until the platform has a history): local, aws, coolify (a warm slot),
	// coolify-cold.
	LeadFloors LeadFloors
	// ReserveAhead: a bot scheduled at least this far ahead reserves
	// capacity for its window at create.
	ReserveAhead time.Duration
	// MaxAttempts bounds attempts of a bot whose container exits before IN_CALL.
	MaxAttempts int
	// BotHeartbeatInterval is what bots are told to beat at.
	BotHeartbeatInterval time.Duration

	ResyncInterval  time.Duration
	ObserveInterval time.Duration
	// ObserveSilence and ObserveMaxStaleness bound what an ECS observer
	// pass reads: a task whose bot beat within ObserveSilence and that was
	// read within ObserveMaxStaleness is not read again (other platforms
	// are listed whole every pass).
	ObserveSilence      time.Duration
	ObserveMaxStaleness time.Duration
	GCInterval          time.Duration
	GCGrace             time.Duration
	// JobTimeout bounds one reconcile.
	JobTimeout time.Duration
	// ReplicaID names this replica in logs and in River's attempted_by
	// (each run adds a suffix of its own); default the host name.
	ReplicaID string

	// BotImages are the images Coolify and Kubernetes run.
	BotImages  BotImages
	Coolify    Coolify
	Kubernetes Kubernetes
	AWS        AWS
	S3         S3
	Webhooks   Webhooks
	// Tenants are the default per-tenant limits (TENANT_*).
	Tenants Tenants

	LocalBotLimit int
	LocalStateDir string
	BotCommand    []string

	LogFormat string
	LogLevel  string

	// MetricsAddr is /metrics' own listener (loopback by default): the API
	// port never serves it, so tenants cannot read the fleet's figures.
	// MetricsCacheTTL is how long database gauges are reused.
	MetricsAddr     string
	MetricsCacheTTL time.Duration
	// Operator guards the River UI beside /metrics.
	Operator Operator

	// HTTP bounds the API's connections (timeouts, header size).
	HTTP HTTP
}

// LeadFloors are the configured minimum lead times per platform.
type LeadFloors struct {
	Local, AWS, Kubernetes, CoolifyWarm, CoolifyCold time.Duration
}

// Load reads the configuration from getenv (os.Getenv in production).
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		DatabaseURL:      r.str("DATABASE_URL", ""),
		DatabaseMaxConns: r.int("DATABASE_MAX_CONNS", 40, 4),
		HTTPAddr:         r.str("HTTP_ADDR", "127.0.0.1:8080"),
		HeartbeatTimeout: r.dur("HEARTBEAT_TIMEOUT", 5*time.Minute),
		DeployTimeout:    r.dur("DEPLOY_TIMEOUT", 10*time.Minute),
		LeaveTimeout:     r.dur("LEAVE_TIMEOUT", 5*time.Minute),
		MaxBotLifetime:   r.dur("MAX_BOT_LIFETIME", 3*time.Hour),
		QueueTimeout:     r.dur("QUEUE_TIMEOUT", 10*time.Minute),
		JoinLeadTime:     r.dur("JOIN_LEAD_TIME", 10*time.Second),
		LeadFloors: LeadFloors{Local: r.dur("LEAD_TIME_FLOOR_LOCAL", 5*time.Second),
			AWS:         r.dur("LEAD_TIME_FLOOR_AWS", 90*time.Second),
			Kubernetes:  r.dur("LEAD_TIME_FLOOR_KUBERNETES", 30*time.Second),
			CoolifyWarm: r.dur("LEAD_TIME_FLOOR_COOLIFY", 30*time.Second),
			CoolifyCold: r.dur("LEAD_TIME_FLOOR_COOLIFY_COLD", 8*time.Minute)},
		ReserveAhead:         r.dur("RESERVE_AHEAD", 10*time.Minute),
		MaxAttempts:          r.int("MAX_ATTEMPTS", 3, 1),
		BotHeartbeatInterval: r.dur("BOT_HEARTBEAT_INTERVAL", 10*time.Second),
		ResyncInterval:       r.dur("RESYNC_INTERVAL", 5*time.Second),
		ObserveInterval:      r.dur("OBSERVE_INTERVAL", 2*time.Second),
		ObserveMaxStaleness:  r.dur("OBSERVE_MAX_STALENESS", 5*time.Minute),
		GCInterval:           r.dur("GC_INTERVAL", time.Minute),
		GCGrace:              r.dur("GC_GRACE", 30*time.Second),
		JobTimeout:           r.dur("JOB_TIMEOUT", 30*time.Second),
		ReplicaID:            r.str("REPLICA_ID", ""),
		LocalBotLimit:        r.int("LOCAL_BOT_LIMIT", 20, 1),
		LocalStateDir:        r.str("LOCAL_STATE_DIR", filepath.Join(os.TempDir(), "meeboter-local")),
		LogFormat:            r.oneOf("LOG_FORMAT", "json", "json", "console"),
		LogLevel:             r.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		MetricsAddr:          r.str("METRICS_ADDR", DefaultMetricsAddr),
		MetricsCacheTTL:      r.dur("METRICS_CACHE_TTL", 5*time.Second),
	}
	c.PublicURL = r.publicURL(c.HTTPAddr)
	c.HTTP = r.http()
	c.Coolify, c.AWS = r.coolify(), r.aws()
	c.BotImages, c.Kubernetes = r.botImages(), r.kubernetes()
	c.S3, c.Webhooks = r.s3(), r.webhooks()
	c.Tenants = r.tenants()
	c.Operator = r.operator()
	c.Platforms, c.PlatformReason = r.platforms(c)
	c.Platform = c.Platforms[0]
	c.BotCommand = r.command()
	// Three beats: one late or lost beat is no reason to ask the platform.
	c.ObserveSilence = r.dur("OBSERVE_SILENCE", 3*c.BotHeartbeatInterval)
	if c.ObserveSilence <= c.BotHeartbeatInterval {
		r.fail("OBSERVE_SILENCE", "must be longer than BOT_HEARTBEAT_INTERVAL (%s)", c.BotHeartbeatInterval)
	}
	if c.HeartbeatTimeout <= c.BotHeartbeatInterval {
		r.fail("HEARTBEAT_TIMEOUT", "must be longer than BOT_HEARTBEAT_INTERVAL (%s)", c.BotHeartbeatInterval)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		r.fail("HTTP_ADDR", "want host:port, got %q", c.HTTPAddr)
	}
	if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
		r.fail("METRICS_ADDR", "want host:port, got %q", c.MetricsAddr)
	}
	if len(c.ReplicaID) > 80 || strings.ContainsAny(c.ReplicaID, "@ \t\n") {
		r.fail("REPLICA_ID", "at most 80 characters, without spaces or @")
	}
	return c, errors.Join(r.errs...)
}

// RequireDatabase reports a missing DATABASE_URL for commands that need it.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("DATABASE_URL: required (a postgres:// URL)")
	}
	return nil
}

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// dur accepts Go durations ("90s", "5m") and bare numbers of seconds.
func (r *reader) dur(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, nerr := strconv.ParseFloat(v, 64)
		if nerr != nil || secs != secs || secs > float64(math.MaxInt64/int64(time.Second)) {
			r.fail(name, "want a duration like 90s or 5m, got %q", v)
			return def
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 {
		r.fail(name, "must be positive, got %q", v)
		return def
	}
	return d
}

func (r *reader) int(name string, def, minimum int) int {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < minimum {
		r.fail(name, "want an integer >= %d, got %q", minimum, v)
		return def
	}
	return n
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(r.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, "want one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}

// publicURL reads PUBLIC_URL, or the seed's NEXT_PUBLIC_APP_ORIGIN_URL.
func (r *reader) publicURL(httpAddr string) string {
	name := "PUBLIC_URL"
	v := r.str(name, "")
	if v == "" {
		name = "NEXT_PUBLIC_APP_ORIGIN_URL"
		v = r.str(name, "")
	}
	if v == "" {
		// A listener on all interfaces (":8080", "0.0.0.0:8080") is reached
		// on loopback by local bots.
		host, port, err := net.SplitHostPort(httpAddr)
		if err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
			return "http://" + net.JoinHostPort("127.0.0.1", port)
		}
		return "http://" + httpAddr
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail(name, "want an absolute http(s) URL, got %s", redactURL(v))
	}
	return strings.TrimRight(v, "/")
}

// platforms resolves DEPLOYMENT_PLATFORM and PLATFORM_PRIORITY into the
// platforms to use, in priority order, and why.
func (r *reader) platforms(c Config) ([]string, string) {
	all := []string{PlatformLocal, PlatformCoolify, PlatformAWS, PlatformKubernetes}
	v := r.oneOf("DEPLOYMENT_PLATFORM", PlatformAuto, append([]string{PlatformAuto}, all...)...)
	if prio := list(r.str("PLATFORM_PRIORITY", "")); len(prio) > 0 {
		seen := map[string]bool{}
		for _, p := range prio {
			switch {
			case !slices.Contains(all, p):
				r.fail("PLATFORM_PRIORITY", "unknown platform %q; want a list of coolify, aws, kubernetes, local", p)
			case seen[p]:
				r.fail("PLATFORM_PRIORITY", "%q is listed twice", p)
			}
			seen[p] = true
		}
		if v != PlatformAuto && v != prio[0] {
			r.fail("DEPLOYMENT_PLATFORM", "%q contradicts PLATFORM_PRIORITY=%s; leave it auto", v, strings.Join(prio, ","))
		}
		r.require(prio, c)
		return prio, "PLATFORM_PRIORITY=" + strings.Join(prio, ",")
	}
	// Auto-detection: what the operator configured before where we run.
	var reason string
	switch {
	case v != PlatformAuto:
		reason = "DEPLOYMENT_PLATFORM=" + v
	case c.Coolify.Configured():
		v, reason = PlatformCoolify, "auto: COOLIFY_API_URL and COOLIFY_API_TOKEN are set"
	case c.AWS.Configured():
		v, reason = PlatformAWS, "auto: AWS_REGION and ECS_CLUSTER are set"
	case c.Kubernetes.InCluster:
		v, reason = PlatformKubernetes, "auto: running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is set)"
	case c.Kubernetes.Kubeconfig != "":
		v, reason = PlatformKubernetes, "auto: KUBECONFIG is set"
	default:
		return []string{PlatformLocal}, "auto: neither Coolify (COOLIFY_API_URL+COOLIFY_API_TOKEN), AWS (AWS_REGION+ECS_CLUSTER) nor Kubernetes (in a pod, or KUBECONFIG) is configured"
	}
	r.require([]string{v}, c)
	return []string{v}, reason
}

func (r *reader) require(platforms []string, c Config) {
	for _, p := range platforms {
		switch p {
		case PlatformCoolify:
			r.requireCoolify(c.Coolify)
		case PlatformAWS:
			r.requireAWS(c.AWS)
		case PlatformKubernetes:
			r.requireKubernetes(c.Kubernetes)
		}
	}
}

// command reads BOT_COMMAND (split on spaces; no shell quoting), defaulting
// to the meeboter-bot binary beside this executable in simulate mode.
func (r *reader) command() []string {
	if v := r.str("BOT_COMMAND", ""); v != "" {
		return strings.Fields(v)
	}
	exe, err := os.Executable()
	if err != nil {
		r.fail("BOT_COMMAND", "not set, and the executable's directory is unknown: %v", err)
		return nil
	}
	return []string{filepath.Join(filepath.Dir(exe), "meeboter-bot"), "--simulate"}
}
