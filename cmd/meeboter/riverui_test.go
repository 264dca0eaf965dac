package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// e2eOperatorToken is OPERATOR_TOKEN in the end-to-end system.
const e2eOperatorToken = "e2e-operator-token-0123456789"

// requireRiverUI checks what serve mounts beside /metrics: the River UI
// answers the operator with the reconcile jobs that ran, refuses anyone
// else and any change, and the API port does not serve it.
func requireRiverUI(t *testing.T, operatorAddr, apiAddr string) {
	t.Helper()
	do := func(method, url, token string) (int, []byte) {
		req, err := http.NewRequestWithContext(t.Context(), method, url, http.NoBody)
		require.NoError(t, err)
		if token != "" {
			req.SetBasicAuth("operator", token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}
	base := "http://" + operatorAddr + "/riverui"
	code, _ := do(http.MethodGet, base+"/", e2eOperatorToken)
	require.Equal(t, http.StatusOK, code, "the UI's page")
	code, _ = do(http.MethodGet, base+"/api/jobs?state=completed", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = do(http.MethodGet, "http://"+apiAddr+"/riverui/", e2eOperatorToken)
	require.Equal(t, http.StatusNotFound, code, "never on the API port")

	code, body := do(http.MethodGet, base+"/api/jobs?state=completed&limit=100", e2eOperatorToken)
	require.Equal(t, http.StatusOK, code)
	var jobs struct {
		Data []struct {
			Kind string `json:"kind"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &jobs))
	kinds := map[string]int{}
	for _, j := range jobs.Data {
		kinds[j.Kind]++
	}
	require.Positive(t, kinds["reconcile_bot"], "completed jobs by kind: %v", kinds)

	code, _ = do(http.MethodPost, base+"/api/jobs/cancel", e2eOperatorToken)
	require.Equal(t, http.StatusForbidden, code, "read-only without RIVERUI_WRITE")
}
