package api

import (
	"net/http"

	"github.com/meeboter/meeboter/pkg/leadtime"
)

// PlatformLimit is one configured platform and its bot limit.
type PlatformLimit struct {
	Name  string
	Limit int
}

// PlatformView is one platform's capacity.
type PlatformView struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	Limit    int    `json:"limit"`
	Used     int    `json:"used"`
	Capacity int    `json:"capacity"`
	// LeadTimeSeconds is how long before its join_at a scheduled bot is
	// admitted here; LeadTimes are the estimates it comes from (per start
	// kind: what they are based on).
	LeadTimeSeconds float64         `json:"lead_time_seconds"`
	LeadTimes       []leadtime.Lead `json:"lead_times"`
}

// PlatformsView is GET /api/v1/platforms.
type PlatformsView struct {
	Platforms   []PlatformView `json:"platforms"`
	QueueLength int            `json:"queue_length"`
}

// getPlatforms shows each platform's limit and live deployments, in
// PLATFORM_PRIORITY order, and the queue that waits for capacity.
func (s *Server) getPlatforms(w http.ResponseWriter, r *http.Request, _ string) {
	used, queued, err := s.Store.PlatformsUsage(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	out := PlatformsView{Platforms: []PlatformView{}, QueueLength: queued}
	var leads []leadtime.Lead
	if s.LeadTimes != nil {
		leads = s.LeadTimes.All(r.Context())
	}
	for i, p := range s.Config.Platforms {
		u := used[p.Name]
		v := PlatformView{Name: p.Name, Priority: i + 1, Limit: p.Limit, Used: u, Capacity: max(p.Limit-u, 0),
			LeadTimes: []leadtime.Lead{}}
		if s.LeadTimes != nil {
			v.LeadTimeSeconds = s.LeadTimes.ForPlatform(r.Context(), p.Name).Seconds()
		}
		for _, l := range leads {
			if l.Platform == p.Name {
				v.LeadTimes = append(v.LeadTimes, l)
			}
		}
		out.Platforms = append(out.Platforms, v)
	}
	writeJSON(w, http.StatusOK, out)
}
