package ecs_test

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/controllers/observer"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/api/apitest"
	"github.com/meeboter/meeboter/pkg/botsim"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/ecs"
	"github.com/meeboter/meeboter/pkg/platform/ecs/ecssim"
	"github.com/meeboter/meeboter/pkg/platform/platformtest"
	"github.com/meeboter/meeboter/pkg/store"
)

const (
	accessKey = "AKIDTEST"
	secretKey = "secret-test"
	cluster   = "bots"
	meetURL   = "https://meet.google.com/abc-defg-hij"
)

// testBundle is a whole controller on a real Postgres with the API on an
// httptest server and ECS simulated; the real AWS SDK talks to the
// simulator, whose tasks run simulated bots in-process.
type testBundle struct {
	apitest.Client
	pool     *pgxpool.Pool
	store    *store.Store
	sim      *ecssim.Sim
	client   *awsecs.Client
	fallback *platformtest.Fake
}

type opts struct {
	sim      ecssim.Config
	bot      bot.Config
	settings botsim.Settings
	// fallback adds a second platform after aws (PLATFORM_PRIORITY=aws,fake).
	fallback bool
	gcGrace  time.Duration
	// limit is AWS_BOT_LIMIT (default 100).
	limit int
	// sdkAttempts bounds the SDK's own retries (default 5): 1 makes every
	// failed call reach the controller.
	sdkAttempts int
}

func defaultOpts() opts {
	settings := botsim.DefaultSettings()
	settings.CallDuration = 300 * time.Millisecond
	return opts{
		sim: ecssim.Config{AccessKeyID: accessKey, SecretAccessKey: secretKey, Clusters: []string{cluster},
			TaskDefinitions: map[string]ecssim.TaskDef{"meeboter-google-meet-bot:1": {ContainerName: "bot"},
				"meeboter-zoom-bot:1": {ContainerName: "bot"}},
			ProvisioningDelay: 50 * time.Millisecond, PendingDelay: 100 * time.Millisecond, StopDelay: 50 * time.Millisecond,
			StopTimeout: 2 * time.Second},
		bot: bot.Config{HeartbeatTimeout: 30 * time.Second, DeployTimeout: time.Minute, LeaveTimeout: 10 * time.Second,
			MaxBotLifetime: time.Hour, QueueTimeout: time.Minute, JoinLeadTime: time.Second, MaxAttempts: 3},
		settings: settings,
		gcGrace:  3 * time.Second,
	}
}

func setup(t *testing.T, o opts) *testBundle {
	t.Helper()
	ctx := context.Background()
	b := &testBundle{pool: storetest.NewPool(t)}
	inserter, err := controllers.NewInsertClient(b.pool)
	require.NoError(t, err)
	b.store = store.New(b.pool, controllers.NewEnqueuer(inserter))
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))

	var handler http.Handler
	apiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(apiSrv.Close)
	b.URL = apiSrv.URL
	priority := []api.PlatformLimit{{Name: ecs.Name, Limit: 100}}
	if o.fallback {
		priority = append(priority, api.PlatformLimit{Name: "fake", Limit: 100})
	}
	handler = (&api.Server{Store: b.store, Clock: clock.Wall{}, Logger: log, Config: api.Config{
		MaxBotLifetime: time.Hour, BotHeartbeatInterval: 200 * time.Millisecond, Platforms: priority}}).Handler()

	settings := o.settings
	o.sim.Workload = func(ctx context.Context, env map[string]string) int {
		if env["BOT_ID"] == "" { // not a bot of ours: a container that just runs
			<-ctx.Done()
			return 0
		}
		return botsim.RunWithEnv(ctx, env, settings)
	}
	sim, simSrv := ecssim.NewServer(t, o.sim)
	b.sim = sim
	b.client = awsecs.New(awsecs.Options{Region: "us-east-1", BaseEndpoint: aws.String(simSrv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		Retryer: retry.NewStandard(func(so *retry.StandardOptions) {
			so.RateLimiter, so.MaxBackoff, so.MaxAttempts = ratelimit.None, 50*time.Millisecond, cmp.Or(o.sdkAttempts, 5)
		})})
	p, err := ecs.New(b.client, ecs.Config{Cluster: cluster, Subnets: []string{"subnet-1"}, SecurityGroups: []string{"sg-1"},
		TaskDefinitions: map[string]string{"google-meet": "meeboter-google-meet-bot:1", "zoom": "meeboter-zoom-bot:1"}})
	require.NoError(t, err)
	platforms := []controllers.PlatformConfig{{Platform: p, Limit: cmp.Or(o.limit, 100)}}
	if o.fallback {
		b.fallback = &platformtest.Fake{}
		platforms = append(platforms, controllers.PlatformConfig{Platform: b.fallback, Limit: 100})
	}
	mgr, err := controllers.New(controllers.Config{Bot: o.bot, PublicURL: apiSrv.URL, Platforms: platforms,
		AdmitInterval: 200 * time.Millisecond, ResyncInterval: 300 * time.Millisecond, ObserveInterval: 200 * time.Millisecond,
		// Three of the bots' 200 ms beats, as in production.
		ObserveFreshness: observer.Freshness{Silence: 600 * time.Millisecond, MaxStaleness: 5 * time.Second},
		GCInterval:       time.Second, GCGrace: o.gcGrace},
		controllers.Deps{Pool: b.pool, Store: b.store, Clock: clock.Wall{}, Logger: log})
	require.NoError(t, err)
	require.NoError(t, mgr.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = mgr.Stop(stopCtx)
	})
	b.Key, _, err = b.store.CreateAPIKey(ctx, "acme", "test", time.Now())
	require.NoError(t, err)
	return b
}

// runningTasks counts tasks not yet stopped.
func (b *testBundle) runningTasks() int {
	n := 0
	for _, task := range b.sim.Tasks() {
		if task.LastStatus != "STOPPED" {
			n++
		}
	}
	return n
}

var _ platform.Platform = (*platformtest.Fake)(nil)

func mustUUID(s string) uuid.UUID { return uuid.MustParse(s) }
