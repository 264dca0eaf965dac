package metrics_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/metrics"
)

// The operators' files, relative to this package.
var (
	alertsFile    = filepath.Join("..", "..", "config", "prometheus", "alerts.yaml")
	dashboardFile = filepath.Join("..", "..", "config", "grafana", "meeboter.json")
)

// requiredAlerts must exist in alerts.yaml.
var requiredAlerts = []string{
	"MeeboterQueueStuck",
	"MeeboterBotsFailing",
	"MeeboterHeartbeatTimeoutsSpiking",
	"MeeboterPlatformAPIErrors",
	"MeeboterPlatformThrottled",
	"MeeboterOrphansCollected",
	"MeeboterNoLeader",
	"MeeboterReconcileErrors",
	"MeeboterBotsLate",
}

// requiredSections must each name a dashboard row that holds panels
// (matched case-insensitively against the row titles).
var requiredSections = []string{"fleet", "pool", "queue", "latency", "platform api"}

// configChecker checks PromQL against the series the binary exports.
type configChecker struct {
	known  map[string]bool
	parser parser.Parser
}

func newConfigChecker() *configChecker {
	return &configChecker{known: metrics.New(metrics.Options{}).FamilyNames(), parser: parser.NewParser(parser.Options{})}
}

// grafanaVariable matches $name, ${name} and ${name:format}.
var grafanaVariable = regexp.MustCompile(`\$\{?(\w+)(?::\w+)?\}?`)

// substituteGrafana replaces Grafana's variables so that PromQL can parse
// the expression: its interval variables ($__rate_interval, $__interval,
// $__range…) by a duration, the dashboard's own ($job, ${instance}) by
// their name, which only ever appear inside label matcher strings.
func substituteGrafana(expr string) string {
	return grafanaVariable.ReplaceAllStringFunc(expr, func(v string) string {
		name := grafanaVariable.FindStringSubmatch(v)[1]
		if strings.HasPrefix(name, "__") {
			return "5m"
		}
		return name
	})
}

// metricNames parses expr (Grafana variables substituted) and returns every
// metric name its selectors use, sorted and deduplicated.
func (c *configChecker) metricNames(expr string) ([]string, error) {
	node, err := c.parser.ParseExpr(substituteGrafana(expr))
	if err != nil {
		return nil, err
	}
	var names []string
	var nameless []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			nameless = append(nameless, vs.String())
			return nil
		}
		names = append(names, name)
		return nil
	})
	if len(nameless) > 0 {
		return nil, fmt.Errorf("selectors without a literal metric name cannot be checked: %s", strings.Join(nameless, ", "))
	}
	sort.Strings(names)
	return slices.Compact(names), nil
}

// checkExpr reports a PromQL expression that does not parse or uses a
// series the binary does not export.
func (c *configChecker) checkExpr(expr string) error {
	names, err := c.metricNames(expr)
	if err != nil {
		return fmt.Errorf("%q: %w", expr, err)
	}
	var unknown []string
	for _, n := range names {
		if !c.known[n] {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%q: unknown metrics %s (not exported by pkg/metrics)", expr, strings.Join(unknown, ", "))
	}
	return nil
}

// ruleProblems parses a rules file with Prometheus's own parser and checks
// every rule's expression, and every alert's severity and annotations.
// It returns the rule groups (nil when they do not parse) and every problem.
func (c *configChecker) ruleProblems(data []byte) (*rulefmt.RuleGroups, []string) {
	groups, errs := rulefmt.Parse(data, false, model.UTF8Validation, c.parser, slog.New(slog.DiscardHandler))
	var problems []string
	for _, err := range errs {
		problems = append(problems, "rulefmt: "+err.Error())
	}
	if groups == nil {
		return nil, problems
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			name := r.Alert + r.Record
			if err := c.checkExpr(r.Expr); err != nil {
				problems = append(problems, fmt.Sprintf("%s/%s: %v", g.Name, name, err))
			}
			if r.Alert == "" {
				continue
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				problems = append(problems, fmt.Sprintf("%s/%s: severity %q, want warning or critical", g.Name, name, s))
			}
			for _, a := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					problems = append(problems, fmt.Sprintf("%s/%s: no %s annotation", g.Name, name, a))
				}
			}
		}
	}
	return groups, problems
}

// Just what the checks read of a Grafana dashboard.
type (
	grafanaDashboard struct {
		SchemaVersion int            `json:"schemaVersion"`
		Panels        []grafanaPanel `json:"panels"`
		Templating    struct {
			List []grafanaVariableDef `json:"list"`
		} `json:"templating"`
	}
	grafanaPanel struct {
		Type    string          `json:"type"`
		Title   string          `json:"title"`
		Panels  []grafanaPanel  `json:"panels"` // a collapsed row's
		Targets []grafanaTarget `json:"targets"`
	}
	grafanaTarget struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	}
	grafanaVariableDef struct {
		Name  string          `json:"name"`
		Type  string          `json:"type"`
		Query json.RawMessage `json:"query"`
	}
)

// labelValues is a Grafana variable query over one selector.
var labelValues = regexp.MustCompile(`^\s*label_values\((.+),\s*\w+\s*\)\s*$`)

// dashboardProblems checks a Grafana dashboard: every panel has targets
// whose expressions parse and use exported series only, variable queries
// too, and the required sections exist.
func (c *configChecker) dashboardProblems(data []byte) []string {
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return []string{"dashboard JSON: " + err.Error()}
	}
	var problems []string
	if d.SchemaVersion < 36 {
		problems = append(problems, fmt.Sprintf("schemaVersion %d, want a current one (≥ 36)", d.SchemaVersion))
	}
	hasDatasource := false
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			var q string
			hasDatasource = hasDatasource || (v.Name == "datasource" && json.Unmarshal(v.Query, &q) == nil && q == "prometheus")
		case "query":
			var q string
			if json.Unmarshal(v.Query, &q) != nil {
				var obj struct {
					Query string `json:"query"`
				}
				_ = json.Unmarshal(v.Query, &obj)
				q = obj.Query
			}
			if m := labelValues.FindStringSubmatch(q); m != nil {
				if err := c.checkExpr(m[1]); err != nil {
					problems = append(problems, fmt.Sprintf("variable %s: %v", v.Name, err))
				}
			}
		}
	}
	if !hasDatasource {
		problems = append(problems, `no "datasource" variable of type datasource for prometheus`)
	}

	sections := map[string]int{} // row title → panels in it
	row := ""
	var walk func(panels []grafanaPanel)
	walk = func(panels []grafanaPanel) {
		for _, p := range panels {
			if p.Type == "row" {
				row = p.Title
				sections[row] += 0
				walk(p.Panels)
				continue
			}
			sections[row]++
			if len(p.Targets) == 0 {
				problems = append(problems, fmt.Sprintf("panel %q (row %q): no targets", p.Title, row))
			}
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					problems = append(problems, fmt.Sprintf("panel %q target %s: empty expr", p.Title, t.RefID))
					continue
				}
				if err := c.checkExpr(t.Expr); err != nil {
					problems = append(problems, fmt.Sprintf("panel %q target %s: %v", p.Title, t.RefID, err))
				}
			}
		}
	}
	walk(d.Panels)
	for _, want := range requiredSections {
		found := false
		for title, n := range sections {
			found = found || (n > 0 && strings.Contains(strings.ToLower(title), want))
		}
		if !found {
			problems = append(problems, fmt.Sprintf("no dashboard row with panels titled like %q", want))
		}
	}
	return problems
}

func TestAlertRulesMatchTheBinary(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(alertsFile)
	require.NoError(t, err)
	c := newConfigChecker()
	// The file as Prometheus itself loads it.
	_, errs := rulefmt.ParseFile(alertsFile, false, model.UTF8Validation, c.parser, slog.New(slog.DiscardHandler))
	require.Empty(t, errs, "rulefmt.ParseFile")

	groups, problems := c.ruleProblems(data)
	require.Empty(t, problems)
	require.NotNil(t, groups)
	alerts := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
		}
	}
	for _, name := range requiredAlerts {
		require.True(t, alerts[name], "alert %s missing from %s", name, alertsFile)
	}
}

func TestDashboardMatchesTheBinary(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	require.Empty(t, newConfigChecker().dashboardProblems(data))
}

// The checks must be able to fail: wrong names, broken PromQL and missing
// pieces are reported, not waved through.
func TestConfigCheckerReportsMistakes(t *testing.T) {
	t.Parallel()
	c := newConfigChecker()

	t.Run("unknown metric", func(t *testing.T) {
		t.Parallel()
		err := c.checkExpr(`sum(rate(meeboter_nope_total[5m])) / sum(rate(meeboter_reconciles_total[5m]))`)
		require.ErrorContains(t, err, "meeboter_nope_total")
		require.NotContains(t, err.Error(), "meeboter_reconciles_total,")
	})
	t.Run("histogram series", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, c.checkExpr(`histogram_quantile(0.95, sum by (le) (rate(meeboter_deploy_duration_seconds_bucket[5m])))`))
		require.ErrorContains(t, c.checkExpr(`rate(meeboter_deploy_duration_seconds_total[5m])`), "meeboter_deploy_duration_seconds_total")
	})
	t.Run("name matcher", func(t *testing.T) {
		t.Parallel()
		require.ErrorContains(t, c.checkExpr(`{__name__="meeboter_nope_total"}`), "meeboter_nope_total")
		require.ErrorContains(t, c.checkExpr(`{__name__=~"meeboter_.+"}`), "without a literal metric name")
	})
	t.Run("bad PromQL", func(t *testing.T) {
		t.Parallel()
		require.Error(t, c.checkExpr(`sum(rate(meeboter_reconciles_total[5m])`))
	})
	t.Run("grafana variables", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, c.checkExpr(`sum(rate(meeboter_reconciles_total{job=~"$job", instance=~"${instance:regex}"}[$__rate_interval]))`))
		require.ErrorContains(t, c.checkExpr(`rate(meeboter_nope_total{job=~"$job"}[$__interval])`), "meeboter_nope_total")
	})
	t.Run("rules", func(t *testing.T) {
		t.Parallel()
		_, problems := c.ruleProblems([]byte(`groups:
  - name: bad
    rules:
      - alert: Nope
        expr: sum(rate(meeboter_nope_total[5m])) > 0
        labels: {severity: page}
        annotations: {summary: s}
`))
		joined := strings.Join(problems, "\n")
		for _, want := range []string{"meeboter_nope_total", `severity "page"`, "no description", "no runbook"} {
			require.Contains(t, joined, want)
		}
		_, problems = c.ruleProblems([]byte("groups:\n  - name: bad\n    rules:\n      - alert: Broken\n        expr: sum(\n"))
		require.NotEmpty(t, problems, "rulefmt must reject an unparsable expr")
	})
	t.Run("dashboard", func(t *testing.T) {
		t.Parallel()
		problems := c.dashboardProblems([]byte(`{"schemaVersion": 39, "panels": [
  {"type": "row", "title": "Fleet"},
  {"type": "timeseries", "title": "Wrong", "targets": [{"refId": "A", "expr": "sum(meeboter_nope_total{job=~\"$job\"})"}]},
  {"type": "timeseries", "title": "Empty"}]}`))
		joined := strings.Join(problems, "\n")
		for _, want := range []string{"meeboter_nope_total", `panel "Empty" (row "Fleet"): no targets`,
			`no "datasource" variable`, `titled like "pool"`, `titled like "platform api"`} {
			require.Contains(t, joined, want)
		}
		require.NotContains(t, joined, `titled like "fleet"`)
	})
}
