package config_test

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/config"
)

// env is a fake environment.
type env map[string]string

func (e env) getenv(name string) string { return e[name] }

// joined returns the errors Load joined, one per wrong variable.
func joined(t *testing.T, err error) []error {
	t.Helper()
	require.Error(t, err)
	var multi interface{ Unwrap() []error }
	require.ErrorAs(t, err, &multi)
	return multi.Unwrap()
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env{}.getenv)
	require.NoError(t, err)

	exe, err := os.Executable()
	require.NoError(t, err)
	require.NotEmpty(t, c.PlatformReason, "auto-detection says why it chose a platform")
	require.Contains(t, c.PlatformReason, "auto")
	c.PlatformReason = ""
	require.Equal(t, config.Config{
		DatabaseMaxConns:     40,
		HTTPAddr:             "127.0.0.1:8080",
		PublicURL:            "http://127.0.0.1:8080",
		Platforms:            []string{config.PlatformLocal},
		Platform:             config.PlatformLocal,
		HeartbeatTimeout:     5 * time.Minute,
		DeployTimeout:        10 * time.Minute,
		LeaveTimeout:         5 * time.Minute,
		MaxBotLifetime:       3 * time.Hour,
		QueueTimeout:         10 * time.Minute,
		JoinLeadTime:         10 * time.Second,
		LeadFloors:           config.LeadFloors{Local: 5 * time.Second, AWS: 90 * time.Second, Kubernetes: 30 * time.Second, CoolifyWarm: 30 * time.Second, CoolifyCold: 8 * time.Minute},
		ReserveAhead:         10 * time.Minute,
		MaxAttempts:          3,
		BotHeartbeatInterval: 10 * time.Second,
		ResyncInterval:       5 * time.Second,
		ObserveInterval:      2 * time.Second,
		ObserveSilence:       30 * time.Second,
		ObserveMaxStaleness:  5 * time.Minute,
		GCInterval:           time.Minute,
		GCGrace:              30 * time.Second,
		JobTimeout:           30 * time.Second,
		LocalBotLimit:        20,
		Tenants:              config.Tenants{RatePerSecond: 100, RateBurst: 300, MaxBots: 1000},
		LocalStateDir:        filepath.Join(os.TempDir(), "meeboter-local"),
		BotCommand:           []string{filepath.Join(filepath.Dir(exe), "meeboter-bot"), "--simulate"},
		LogFormat:            "json",
		LogLevel:             "info",
		Coolify: config.Coolify{
			EnvironmentName: "production", Mode: config.CoolifyPool, LimitsCPUs: "1", LimitsMemory: "2048m",
			RateLimit: 150, MaxConcurrentDeploys: 4, BotLimit: 30, PoolMinIdle: 1, PoolMaxSlots: 10,
			PoolIdleTTL: 30 * time.Minute, PoolSyncInterval: 5 * time.Second, StartTimeout: 15 * time.Minute,
			PoolStopTimeout: 2 * time.Minute, PoolDeleteTimeout: 5 * time.Minute, PoolMaxErrors: 3,
		},
		BotImages: config.BotImages{Tag: "latest", Repos: map[string]string{
			"zoom":            "ghcr.io/meeboter/meeboter-zoom-bot",
			"microsoft-teams": "ghcr.io/meeboter/meeboter-microsoft-teams-bot",
			"google-meet":     "ghcr.io/meeboter/meeboter-google-meet-bot",
		}},
		Kubernetes: config.Kubernetes{Owner: "meeboter", BotLimit: 50, StopGrace: 30 * time.Second, APIQPS: 50, APIBurst: 100,
			DefaultResources: config.Resources{CPU: "1", Memory: "2Gi"},
			Resources:        map[string]config.Resources{}, NodeSelector: map[string]string{}},
		AWS: config.AWS{ContainerName: "bot", AssignPublicIP: true, LaunchType: "FARGATE", BotLimit: 50,
			ModifyRate: 40, ModifyBurst: 100, ReadRate: 20, ReadBurst: 100, LaunchRate: 20, LaunchBurst: 100,
			TaskDefinitions: map[string]string{}},
		MetricsAddr:     "127.0.0.1:9464",
		MetricsCacheTTL: 5 * time.Second,
		HTTP: config.HTTP{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute,
			IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10},
		S3: config.S3{Bucket: "meeboter-recordings", Region: "us-east-1", UploadURLTTL: 15 * time.Minute, DownloadURLTTL: time.Hour},
		Webhooks: config.Webhooks{Timeout: 10 * time.Second, RetryWindow: 24 * time.Hour, RetryBase: 10 * time.Second,
			Workers: 200, BreakerFailures: 5, BreakerCooldown: 30 * time.Second},
	}, c)

	err = c.RequireDatabase()
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "DATABASE_URL:"), err.Error())
}

func TestLoadValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		env   env
		check func(t *testing.T, c config.Config)
	}{
		{"public URL, trailing slash dropped", env{"PUBLIC_URL": "https://bots.example.com/"},
			func(t *testing.T, c config.Config) { require.Equal(t, "https://bots.example.com", c.PublicURL) }},
		{"public URL from the seed's NEXT_PUBLIC_APP_ORIGIN_URL", env{"NEXT_PUBLIC_APP_ORIGIN_URL": "https://app.example.com"},
			func(t *testing.T, c config.Config) { require.Equal(t, "https://app.example.com", c.PublicURL) }},
		{"PUBLIC_URL wins over the alias", env{"PUBLIC_URL": "http://a.example.com:8080", "NEXT_PUBLIC_APP_ORIGIN_URL": "https://b.example.com"},
			func(t *testing.T, c config.Config) { require.Equal(t, "http://a.example.com:8080", c.PublicURL) }},
		{"public URL derived from HTTP_ADDR", env{"HTTP_ADDR": "10.0.0.5:9000"},
			func(t *testing.T, c config.Config) {
				require.Equal(t, "10.0.0.5:9000", c.HTTPAddr)
				require.Equal(t, "http://10.0.0.5:9000", c.PublicURL)
			}},
		{"public URL on loopback when listening on all interfaces", env{"HTTP_ADDR": ":9000"},
			func(t *testing.T, c config.Config) { require.Equal(t, "http://127.0.0.1:9000", c.PublicURL) }},
		{"Go durations", env{"HEARTBEAT_TIMEOUT": "90s", "DEPLOY_TIMEOUT": "5m", "MAX_BOT_LIFETIME": "1h30m", "GC_GRACE": "1500ms", "JOB_TIMEOUT": "2m"},
			func(t *testing.T, c config.Config) {
				require.Equal(t, 2*time.Minute, c.JobTimeout)
				require.Equal(t, 90*time.Second, c.HeartbeatTimeout)
				require.Equal(t, 5*time.Minute, c.DeployTimeout)
				require.Equal(t, 90*time.Minute, c.MaxBotLifetime)
				require.Equal(t, 1500*time.Millisecond, c.GCGrace)
			}},
		{"bare seconds", env{"LEAVE_TIMEOUT": "30", "QUEUE_TIMEOUT": " 45 ", "OBSERVE_INTERVAL": "0.5"},
			func(t *testing.T, c config.Config) {
				require.Equal(t, 30*time.Second, c.LeaveTimeout)
				require.Equal(t, 45*time.Second, c.QueueTimeout)
				require.Equal(t, 500*time.Millisecond, c.ObserveInterval)
			}},
		{"blank is the default", env{"DEPLOY_TIMEOUT": "   ", "HTTP_ADDR": " "},
			func(t *testing.T, c config.Config) {
				require.Equal(t, 10*time.Minute, c.DeployTimeout)
				require.Equal(t, "127.0.0.1:8080", c.HTTPAddr)
			}},
		{"heartbeat timeout just over the interval", env{"HEARTBEAT_TIMEOUT": "11s", "BOT_HEARTBEAT_INTERVAL": "10"},
			func(t *testing.T, c config.Config) {
				require.Equal(t, 11*time.Second, c.HeartbeatTimeout)
				require.Equal(t, 10*time.Second, c.BotHeartbeatInterval)
			}},
		{"observer silence is three beats unless set", env{"BOT_HEARTBEAT_INTERVAL": "5s"},
			func(t *testing.T, c config.Config) { require.Equal(t, 15*time.Second, c.ObserveSilence) }},
		{"observer freshness", env{"OBSERVE_SILENCE": "45s", "OBSERVE_MAX_STALENESS": "10m"},
			func(t *testing.T, c config.Config) {
				require.Equal(t, 45*time.Second, c.ObserveSilence)
				require.Equal(t, 10*time.Minute, c.ObserveMaxStaleness)
			}},
		{"integers", env{"LOCAL_BOT_LIMIT": "1", "MAX_ATTEMPTS": "7"},
			func(t *testing.T, c config.Config) {
				require.Equal(t, 1, c.LocalBotLimit)
				require.Equal(t, 7, c.MaxAttempts)
			}},
		{"platform local", env{"DEPLOYMENT_PLATFORM": "local"},
			func(t *testing.T, c config.Config) {
				require.Equal(t, config.PlatformLocal, c.Platform)
				require.Equal(t, "DEPLOYMENT_PLATFORM=local", c.PlatformReason)
			}},
		{"platform names are case-insensitive", env{"DEPLOYMENT_PLATFORM": "LOCAL"},
			func(t *testing.T, c config.Config) { require.Equal(t, config.PlatformLocal, c.Platform) }},
		{"platform auto", env{"DEPLOYMENT_PLATFORM": "auto"},
			func(t *testing.T, c config.Config) {
				require.Equal(t, config.PlatformLocal, c.Platform)
				require.Contains(t, c.PlatformReason, "auto")
			}},
		{"logging", env{"LOG_FORMAT": "Console", "LOG_LEVEL": "DEBUG"},
			func(t *testing.T, c config.Config) {
				require.Equal(t, "console", c.LogFormat)
				require.Equal(t, "debug", c.LogLevel)
			}},
		{"bot command split on spaces", env{"BOT_COMMAND": " node  dist/bot.js --simulate "},
			func(t *testing.T, c config.Config) {
				require.Equal(t, []string{"node", "dist/bot.js", "--simulate"}, c.BotCommand)
			}},
		{"database and state dir", env{"DATABASE_URL": "postgres://u@db/meeboter", "LOCAL_STATE_DIR": "/var/lib/meeboter"},
			func(t *testing.T, c config.Config) {
				require.Equal(t, "postgres://u@db/meeboter", c.DatabaseURL)
				require.Equal(t, "/var/lib/meeboter", c.LocalStateDir)
				require.NoError(t, c.RequireDatabase())
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(tc.env.getenv)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env     env
		name    string // the variable the error must name
		mention string // another part of the message
	}{
		{env{"HEARTBEAT_TIMEOUT": "abc"}, "HEARTBEAT_TIMEOUT", `"abc"`},
		{env{"DEPLOY_TIMEOUT": "-5s"}, "DEPLOY_TIMEOUT", "positive"},
		{env{"LEAVE_TIMEOUT": "0"}, "LEAVE_TIMEOUT", "positive"},
		{env{"JOIN_LEAD_TIME": "-1"}, "JOIN_LEAD_TIME", "positive"},
		{env{"GC_INTERVAL": "5 minutes"}, "GC_INTERVAL", `"5 minutes"`},
		{env{"BOT_HEARTBEAT_INTERVAL": "10m"}, "HEARTBEAT_TIMEOUT", "BOT_HEARTBEAT_INTERVAL"},
		{env{"HEARTBEAT_TIMEOUT": "10s"}, "HEARTBEAT_TIMEOUT", "longer than BOT_HEARTBEAT_INTERVAL"},
		{env{"OBSERVE_SILENCE": "10s"}, "OBSERVE_SILENCE", "longer than BOT_HEARTBEAT_INTERVAL"},
		{env{"OBSERVE_MAX_STALENESS": "0"}, "OBSERVE_MAX_STALENESS", "positive"},
		{env{"LOCAL_BOT_LIMIT": "0"}, "LOCAL_BOT_LIMIT", `"0"`},
		{env{"LOCAL_BOT_LIMIT": "many"}, "LOCAL_BOT_LIMIT", `"many"`},
		{env{"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS", ">= 1"},
		{env{"DEPLOYMENT_PLATFORM": "nomad"}, "DEPLOYMENT_PLATFORM", `"nomad"`},
		{env{"DEPLOYMENT_PLATFORM": "aws", "AWS_REGION": "eu-west-1", "ECS_CLUSTER": "bots", "ECS_SUBNETS": "subnet-1"},
			"ECS_TASK_DEF_ZOOM", "at least one"},
		{env{"AWS_REGION": "eu-west-1", "ECS_CLUSTER": "bots", "ECS_TASK_DEF_ZOOM": "zoom:1"}, "ECS_SUBNETS", "awsvpc"},
		{env{"PLATFORM_PRIORITY": "coolify,k8s", "COOLIFY_API_URL": "http://c/api/v1",
			"COOLIFY_API_TOKEN": "t", "COOLIFY_PROJECT_UUID": "p", "COOLIFY_SERVER_UUID": "s"}, "PLATFORM_PRIORITY", `"k8s"`},
		{env{"ECS_LAUNCH_TYPE": "lambda"}, "ECS_LAUNCH_TYPE", `"lambda"`},
		{env{"DEPLOYMENT_PLATFORM": "coolify", "COOLIFY_API_URL": "http://c/api/v1", "COOLIFY_API_TOKEN": "t", "COOLIFY_PROJECT_UUID": "p"},
			"COOLIFY_SERVER_UUID", "required when the platform is coolify"},
		{env{"COOLIFY_API_URL": "http://c/api/v1", "COOLIFY_API_TOKEN": "t", "COOLIFY_SERVER_UUID": "s"},
			"COOLIFY_PROJECT_UUID", "required"},
		{env{"COOLIFY_MODE": "k8s"}, "COOLIFY_MODE", `"k8s"`},
		{env{"POOL_MAX_SLOTS": "0"}, "POOL_MAX_SLOTS", `"0"`},
		{env{"PUBLIC_URL": "ftp://x"}, "PUBLIC_URL", "ftp://x"},
		{env{"PUBLIC_URL": "bots.example.com"}, "PUBLIC_URL", "absolute"},
		{env{"NEXT_PUBLIC_APP_ORIGIN_URL": "ftp://x"}, "NEXT_PUBLIC_APP_ORIGIN_URL", "ftp://x"},
		{env{"METRICS_ADDR": "9464"}, "METRICS_ADDR", `"9464"`},
		{env{"OPERATOR_TOKEN": "too-short"}, "OPERATOR_TOKEN", "at least 16"},
		{env{"RIVERUI_WRITE": "yes"}, "RIVERUI_WRITE", `"yes"`},
		{env{"HTTP_READ_TIMEOUT": "soon"}, "HTTP_READ_TIMEOUT", `"soon"`},
		{env{"HTTP_WRITE_TIMEOUT": "0"}, "HTTP_WRITE_TIMEOUT", "positive"},
		{env{"HTTP_IDLE_TIMEOUT": "-1s"}, "HTTP_IDLE_TIMEOUT", "positive"},
		{env{"HTTP_MAX_HEADER_BYTES": "100"}, "HTTP_MAX_HEADER_BYTES", ">= 4096"},
		{env{"HTTP_ADDR": "nonsense"}, "HTTP_ADDR", `"nonsense"`},
		{env{"LOG_FORMAT": "xml"}, "LOG_FORMAT", `"xml"`},
		{env{"LOG_LEVEL": "trace"}, "LOG_LEVEL", `"trace"`},
	}
	for _, tc := range cases {
		var desc []string
		for k, v := range tc.env {
			desc = append(desc, k+"="+v)
		}
		t.Run(strings.Join(desc, " "), func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(tc.env.getenv)
			errs := joined(t, err)
			require.Len(t, errs, 1, "only the wrong variable is reported: %v", err)
			require.True(t, strings.HasPrefix(errs[0].Error(), tc.name+": "), "%q names %s", errs[0], tc.name)
			require.Contains(t, errs[0].Error(), tc.mention)
		})
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	t.Parallel()
	bad := env{
		"HEARTBEAT_TIMEOUT":   "abc",
		"DEPLOY_TIMEOUT":      "-5s",
		"LOCAL_BOT_LIMIT":     "0",
		"DEPLOYMENT_PLATFORM": "nomad",
		"PUBLIC_URL":          "ftp://x",
		"HTTP_ADDR":           "nonsense",
		"LOG_FORMAT":          "xml",
	}
	_, err := config.Load(bad.getenv)
	errs := joined(t, err)
	var named []string
	for _, e := range errs {
		name, _, ok := strings.Cut(e.Error(), ": ")
		require.True(t, ok, "%q", e)
		named = append(named, name)
	}
	var want []string
	for name := range bad {
		want = append(want, name)
	}
	require.ElementsMatch(t, want, named, "%v", err)
	for name := range bad {
		require.Contains(t, err.Error(), name)
	}
}

func TestLoadCoolify(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env{"COOLIFY_API_URL": "https://coolify.example.com/api/v1/", "COOLIFY_API_TOKEN": "1|secret",
		"COOLIFY_PROJECT_UUID": "p", "COOLIFY_SERVER_UUID": "s", "GHCR_ORG": "acme", "BOT_IMAGE_TAG": "v2",
		"BOT_IMAGE_ZOOM": "registry.example.com/zoom-bot", "POOL_MAX_SLOTS": "4"}.getenv)
	require.NoError(t, err)
	require.Equal(t, config.PlatformCoolify, c.Platform, "auto-detection picks Coolify when URL and token are set")
	require.Contains(t, c.PlatformReason, "COOLIFY_API_URL")
	require.Equal(t, "https://coolify.example.com/api/v1", c.Coolify.APIURL)
	require.Equal(t, "registry.example.com/zoom-bot", c.BotImages.Repos["zoom"])
	require.Equal(t, "ghcr.io/acme/meeboter-google-meet-bot", c.BotImages.Repos["google-meet"])
	require.Equal(t, "v2", c.BotImages.Tag)
	require.Equal(t, 12, c.Coolify.BotLimit, "three meeting platforms' slots by default")

	local, err := config.Load(env{"DEPLOYMENT_PLATFORM": "local", "COOLIFY_API_URL": "https://c/api/v1", "COOLIFY_API_TOKEN": "t"}.getenv)
	require.NoError(t, err)
	require.Equal(t, config.PlatformLocal, local.Platform, "an explicit platform wins over detection")
}

func TestLoadAWSAndPriority(t *testing.T) {
	t.Parallel()
	aws := env{"AWS_REGION": "eu-west-1", "ECS_CLUSTER": "bots", "ECS_TASK_DEF_ZOOM": "meeboter-zoom-bot:3",
		"ECS_SUBNETS": "subnet-a, subnet-b", "ECS_SECURITY_GROUPS": "sg-1", "ECS_ASSIGN_PUBLIC_IP": "false",
		"ECS_CAPACITY_PROVIDERS": "FARGATE_SPOT", "AWS_BOT_LIMIT": "7"}
	c, err := config.Load(aws.getenv)
	require.NoError(t, err)
	require.Equal(t, []string{config.PlatformAWS}, c.Platforms, "auto-detection picks AWS when region and cluster are set")
	require.Contains(t, c.PlatformReason, "AWS_REGION")
	require.Equal(t, []string{"subnet-a", "subnet-b"}, c.AWS.Subnets)
	require.False(t, c.AWS.AssignPublicIP)
	require.Equal(t, []string{"FARGATE_SPOT"}, c.AWS.CapacityProviders)
	require.Equal(t, map[string]string{"zoom": "meeboter-zoom-bot:3"}, c.AWS.TaskDefinitions)
	require.Equal(t, 7, c.AWS.BotLimit)

	hybrid := env{"PLATFORM_PRIORITY": "coolify, aws ,local", "COOLIFY_API_URL": "http://c/api/v1", "COOLIFY_API_TOKEN": "t",
		"COOLIFY_PROJECT_UUID": "p", "COOLIFY_SERVER_UUID": "s"}
	for k, v := range aws {
		hybrid[k] = v
	}
	c, err = config.Load(hybrid.getenv)
	require.NoError(t, err)
	require.Equal(t, []string{"coolify", "aws", "local"}, c.Platforms)
	require.Equal(t, "coolify", c.Platform)
}

// The shipped example environment must stay loadable.
func TestExampleEnvLoads(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../config/meeboter.env.example")
	require.NoError(t, err)
	e := env{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, line)
		e[k] = v
	}
	c, err := config.Load(e.getenv)
	require.NoError(t, err)
	require.Equal(t, []string{config.PlatformCoolify}, c.Platforms)
	require.Equal(t, "https://meeboter.example.com", c.PublicURL)
	require.True(t, c.S3.Configured())
	require.NotEmpty(t, c.Webhooks.Secret)
}

// TestLoadHTTPValues: the API listener's bounds are set from the
// environment; the header timeout never exceeds the whole read's.
func TestLoadHTTPValues(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env{"HTTP_READ_TIMEOUT": "2s", "HTTP_WRITE_TIMEOUT": "3m", "HTTP_IDLE_TIMEOUT": "45",
		"HTTP_MAX_HEADER_BYTES": "8192", "METRICS_ADDR": "0.0.0.0:9100"}.getenv)
	require.NoError(t, err)
	require.Equal(t, config.HTTP{ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Minute,
		IdleTimeout: 45 * time.Second, MaxHeaderBytes: 8192}, c.HTTP)
	require.Equal(t, "0.0.0.0:9100", c.MetricsAddr)
}

// TestLoadErrorsHideCredentials: a wrong URL setting is named, but what
// it holds of user info, path and query (passwords, tokens) never reaches
// the message, which start-up prints and logs keep.
func TestLoadErrorsHideCredentials(t *testing.T) {
	t.Parallel()
	secrets := []string{"hunter2", "s3cr3t", "t0ken", "admin"}
	values := []string{
		"ftp://admin:hunter2@hooks.example.com/t0ken?key=s3cr3t",
		"admin:hunter2@hooks.example.com/t0ken?key=s3cr3t",        // no scheme
		"http://admin:hunter2@hooks.example.com:bad/t0ken?s3cr3t", // unparsable port
		"https://admin:hunter2@/t0ken?key=s3cr3t",                 // no host
	}
	for _, name := range []string{"PUBLIC_URL", "NEXT_PUBLIC_APP_ORIGIN_URL", "WEBHOOK_URL", "COOLIFY_API_URL"} {
		for _, v := range values {
			_, err := config.Load(env{name: v}.getenv)
			require.Error(t, err, "%s=%s", name, v)
			require.Contains(t, err.Error(), name+": ")
			for _, secret := range secrets {
				require.NotContains(t, err.Error(), secret, "%s=%s", name, v)
			}
		}
	}
}

func TestOperatorToken(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env{}.getenv)
	require.NoError(t, err)
	require.Equal(t, config.Operator{}, c.Operator, "no token: no River UI; read-only by default")

	c, err = config.Load(env{"OPERATOR_TOKEN": "a-long-enough-token", "RIVERUI_WRITE": "TRUE"}.getenv)
	require.NoError(t, err)
	require.Equal(t, config.Operator{Token: "a-long-enough-token", RiverUIWrite: true}, c.Operator)

	_, err = config.Load(env{"OPERATOR_TOKEN": "short-secret"}.getenv)
	require.ErrorContains(t, err, "OPERATOR_TOKEN: ")
	require.NotContains(t, err.Error(), "short-secret", "the error must not echo the token")
}

func TestLoadKubernetes(t *testing.T) {
	t.Parallel()
	inCluster := env{"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_NAMESPACE": "bots",
		"KUBERNETES_RESOURCES_ZOOM": "cpu=2, memory=4Gi", "KUBERNETES_MEMORY": "3Gi",
		"KUBERNETES_NODE_SELECTOR": "pool=bots,zone=a", "KUBERNETES_TOLERATIONS": "dedicated=bots:NoSchedule,spot:NoExecute",
		"KUBERNETES_POD_PATCH": `{"spec":{"priorityClassName":"bots"}}`, "BOT_IMAGE_TAG": "v3"}
	c, err := config.Load(inCluster.getenv)
	require.NoError(t, err)
	require.Equal(t, []string{config.PlatformKubernetes}, c.Platforms, "auto-detection picks Kubernetes inside a pod")
	require.Contains(t, c.PlatformReason, "KUBERNETES_SERVICE_HOST")
	k := c.Kubernetes
	ref, ok := c.BotImages.Ref("zoom")
	require.True(t, ok)
	require.Equal(t, "ghcr.io/meeboter/meeboter-zoom-bot:v3", ref)
	require.Equal(t, config.Resources{CPU: "1", Memory: "3Gi"}, k.DefaultResources)
	require.Equal(t, map[string]config.Resources{"zoom": {CPU: "2", Memory: "4Gi"}}, k.Resources)
	require.Equal(t, map[string]string{"pool": "bots", "zone": "a"}, k.NodeSelector)
	require.Equal(t, []config.Toleration{{Key: "dedicated", Value: "bots", Effect: "NoSchedule"}, {Key: "spot", Effect: "NoExecute"}},
		k.Tolerations)

	// Coolify, then AWS, come before where we run.
	withCoolify := env{"COOLIFY_API_URL": "http://c/api/v1", "COOLIFY_API_TOKEN": "t", "COOLIFY_PROJECT_UUID": "p",
		"COOLIFY_SERVER_UUID": "s"}
	maps.Copy(withCoolify, inCluster)
	c, err = config.Load(withCoolify.getenv)
	require.NoError(t, err)
	require.Equal(t, []string{config.PlatformCoolify}, c.Platforms)

	c, err = config.Load(env{"KUBECONFIG": "/home/op/.kube/config", "KUBERNETES_NAMESPACE": "bots",
		"PLATFORM_PRIORITY": "kubernetes,local"}.getenv)
	require.NoError(t, err)
	require.Equal(t, []string{"kubernetes", "local"}, c.Platforms)

	for _, bad := range []struct {
		env  env
		name string
	}{
		{env{"DEPLOYMENT_PLATFORM": "kubernetes", "KUBECONFIG": "/k"}, "KUBERNETES_NAMESPACE"},
		{env{"DEPLOYMENT_PLATFORM": "kubernetes", "KUBERNETES_NAMESPACE": "bots"}, "KUBECONFIG"},
		{env{"KUBERNETES_CPU": "lots"}, "KUBERNETES_CPU"},
		{env{"KUBERNETES_RESOURCES_GOOGLE_MEET": "gpu=1"}, "KUBERNETES_RESOURCES_GOOGLE_MEET"},
		{env{"KUBERNETES_TOLERATIONS": "a=b:Sometimes"}, "KUBERNETES_TOLERATIONS"},
		{env{"KUBERNETES_NODE_SELECTOR": "justakey"}, "KUBERNETES_NODE_SELECTOR"},
		{env{"KUBERNETES_POD_PATCH": "[1,2]"}, "KUBERNETES_POD_PATCH"},
	} {
		errs := joined(t, func() error { _, err := config.Load(bad.env.getenv); return err }())
		require.Len(t, errs, 1, "%v", errs)
		require.ErrorContains(t, errs[0], bad.name+":")
	}
}
