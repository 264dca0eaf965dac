package s3server

import "testing"

// StartT starts a server for a test, with its data in t.TempDir(), and
// stops it when the test ends. The server's output is logged only if the
// test fails, and a server that died during the test fails it.
func StartT(t testing.TB) *Server {
	t.Helper()
	s, err := Start(t.Context(), Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err) // carries the output already.
		} else if t.Failed() {
			t.Logf("versitygw output (tail):\n%s", s.log)
		}
	})
	return s
}
