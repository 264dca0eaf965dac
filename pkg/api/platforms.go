package api

import "net/http"

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
	for i, p := range s.Config.Platforms {
		u := used[p.Name]
		out.Platforms = append(out.Platforms, PlatformView{Name: p.Name, Priority: i + 1, Limit: p.Limit, Used: u,
			Capacity: max(p.Limit-u, 0)})
	}
	writeJSON(w, http.StatusOK, out)
}
