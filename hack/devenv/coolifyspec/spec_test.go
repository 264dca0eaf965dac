package coolifyspec

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

const specFile = "../../../pkg/platform/coolify/testdata/coolify-openapi.json"

// TestDeviationsAreWellFormed: every entry says where, why and who proves
// it; the proofs themselves live in the two contract tests.
func TestDeviationsAreWellFormed(t *testing.T) {
	t.Parallel()
	opKey := regexp.MustCompile(`^(GET|POST|PATCH|PUT|DELETE) /\S*$`)
	ids := map[string]bool{}
	for _, d := range Deviations {
		require.NotEmpty(t, d.ID)
		require.False(t, ids[d.ID], "duplicate deviation %s", d.ID)
		ids[d.ID] = true
		require.NotEmpty(t, d.Where, d.ID)
		require.NotEmpty(t, d.Why, d.ID)
		require.NotNil(t, d.patch, d.ID)
		// Without a prover nothing would notice the entry going stale.
		require.NotZero(t, d.ProvedBy, "%s: no test proves it", d.ID)
		require.Zero(t, d.ProvedBy&^(ByClient|BySim), "%s: unknown prover", d.ID)
		require.NotEmpty(t, d.Ops, d.ID)
		if d.Ops[0] == Everywhere {
			require.Len(t, d.Ops, 1, "%s: Everywhere stands alone", d.ID)
			continue
		}
		for _, op := range d.Ops {
			require.Regexp(t, opKey, op, d.ID)
		}
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	doc, err := Load(specFile)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	// A deviation's patch really is in: the dockerimage build pack.
	require.Contains(t, doc.Components.Schemas["Application"].Value.Properties["build_pack"].Value.Enum, "dockerimage")

	_, err = Load(specFile, "no-such-deviation")
	require.ErrorContains(t, err, "no-such-deviation", "a misspelt skip must not pass for a proof")
}

// TestDeclareRefusesDeclared: naming an operation that declares the status
// already is a mistake in the table, not a deviation.
func TestDeclareRefusesDeclared(t *testing.T) {
	t.Parallel()
	op := map[string]any{"operationId": "x", "responses": map[string]any{"404": map[string]any{}}}
	require.ErrorContains(t, declare("404", map[string]any{})(nil, []map[string]any{op}), "declared already")
	require.NoError(t, declare("409", map[string]any{})(nil, []map[string]any{op}))
	require.Contains(t, op["responses"], "409")
}
