package config

import (
	"net/url"
	"strings"
	"time"
)

// PlatformCoolify is the Coolify platform.
const PlatformCoolify = "coolify"

// Coolify modes.
const (
	CoolifyPool      = "pool"      // reusable slots (the default)
	CoolifyEphemeral = "ephemeral" // one application per attempt
)

// Coolify configures the Coolify platform (names from the seed's deployment guide).
type Coolify struct {
	APIURL               string
	Token                string
	ProjectUUID          string
	ServerUUID           string
	EnvironmentName      string
	DestinationUUID      string
	Mode                 string
	LimitsCPUs           string
	LimitsMemory         string
	RateLimit            int // requests per minute, below Coolify's 200
	MaxConcurrentDeploys int
	BotLimit             int
	PoolMinIdle          int
	PoolMaxSlots         int // per meeting platform
	PoolIdleTTL          time.Duration
	// PoolLookAhead: scheduled bots due within it get hot slots (0: the
	// default, a cold start and every slot's start through the cap).
	PoolLookAhead    time.Duration
	PoolSyncInterval time.Duration
	StartTimeout     time.Duration
	// PoolStopTimeout and PoolDeleteTimeout bound a slot's stop and its
	// deletion; after PoolMaxErrors failed starts in a row a slot is
	// replaced.
	PoolStopTimeout   time.Duration
	PoolDeleteTimeout time.Duration
	PoolMaxErrors     int
}

// Configured reports whether Coolify's URL and token are set (auto-detection).
func (c Coolify) Configured() bool { return c.APIURL != "" && c.Token != "" }

// BotImages are the bot images by meeting platform, on every platform that
// runs images (Coolify, Kubernetes): ghcr.io/<GHCR_ORG>/meeboter-<platform>-bot
// unless BOT_IMAGE_<PLATFORM> overrides it, all with the tag BOT_IMAGE_TAG.
type BotImages struct {
	Repos map[string]string
	Tag   string
}

// Ref is the meeting platform's image with its tag.
func (b BotImages) Ref(meetingPlatform string) (string, bool) {
	repo, ok := b.Repos[meetingPlatform]
	return repo + ":" + b.Tag, ok
}

func (r *reader) botImages() BotImages {
	b := BotImages{Repos: map[string]string{}, Tag: r.str("BOT_IMAGE_TAG", "latest")}
	org := r.str("GHCR_ORG", "meeboter")
	for mp, suffix := range meetingPlatformEnv {
		b.Repos[mp] = r.str("BOT_IMAGE_"+suffix, "ghcr.io/"+org+"/meeboter-"+mp+"-bot")
	}
	return b
}

var meetingPlatformEnv = map[string]string{
	"zoom": "ZOOM", "microsoft-teams": "MICROSOFT_TEAMS", "google-meet": "GOOGLE_MEET",
}

func (r *reader) coolify() Coolify {
	c := Coolify{
		APIURL:               strings.TrimRight(r.str("COOLIFY_API_URL", ""), "/"),
		Token:                r.str("COOLIFY_API_TOKEN", ""),
		ProjectUUID:          r.str("COOLIFY_PROJECT_UUID", ""),
		ServerUUID:           r.str("COOLIFY_SERVER_UUID", ""),
		EnvironmentName:      r.str("COOLIFY_ENVIRONMENT_NAME", "production"),
		DestinationUUID:      r.str("COOLIFY_DESTINATION_UUID", ""),
		Mode:                 r.oneOf("COOLIFY_MODE", CoolifyPool, CoolifyPool, CoolifyEphemeral),
		LimitsCPUs:           r.str("COOLIFY_LIMITS_CPUS", "1"),
		LimitsMemory:         r.str("COOLIFY_LIMITS_MEMORY", "2048m"),
		RateLimit:            r.int("COOLIFY_RATE_LIMIT", 150, 1),
		MaxConcurrentDeploys: r.int("COOLIFY_MAX_CONCURRENT_DEPLOYS", 4, 1),
		PoolMinIdle:          r.int("POOL_MIN_IDLE", 1, 0),
		PoolMaxSlots:         r.int("POOL_MAX_SLOTS", 10, 1),
		PoolIdleTTL:          r.dur("POOL_IDLE_TTL", 30*time.Minute),
		PoolLookAhead:        r.dur("POOL_LOOK_AHEAD", 0),
		PoolSyncInterval:     r.dur("POOL_SYNC_INTERVAL", 5*time.Second),
		StartTimeout:         r.dur("COOLIFY_START_TIMEOUT", 15*time.Minute),
		PoolStopTimeout:      r.dur("POOL_STOP_TIMEOUT", 2*time.Minute),
		PoolDeleteTimeout:    r.dur("POOL_DELETE_TIMEOUT", 5*time.Minute),
		PoolMaxErrors:        r.int("POOL_MAX_ERRORS", 3, 1),
	}
	c.BotLimit = r.int("COOLIFY_BOT_LIMIT", 3*c.PoolMaxSlots, 1)
	if c.APIURL != "" {
		if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.fail("COOLIFY_API_URL", "want an absolute http(s) URL ending in /api/v1, got %s", redactURL(c.APIURL))
		}
	}
	return c
}

// requireCoolify checks what the Coolify platform cannot run without.
func (r *reader) requireCoolify(c Coolify) {
	for _, v := range [][2]string{{"COOLIFY_API_URL", c.APIURL}, {"COOLIFY_API_TOKEN", c.Token},
		{"COOLIFY_PROJECT_UUID", c.ProjectUUID}, {"COOLIFY_SERVER_UUID", c.ServerUUID}} {
		if v[1] == "" {
			r.fail(v[0], "required when the platform is coolify")
		}
	}
}
