// Package pgtest gives tests their own PostgreSQL databases.
//
// It owns the server a test binary talks to and the databases it makes
// there. A package opts in from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Main uses the server named by TEST_DATABASE_URL (else DATABASE_URL) when
// set; otherwise it starts a throwaway cluster (package pgcluster) for this
// test binary alone, so packages tested in parallel never share one. Each
// test then calls NewDatabase for a fresh, uniquely named database that is
// dropped when the test ends, so tests may run in parallel.
//
// A package whose tests all need the same schema builds it once with
// EnsureTemplate and clones it per test with NewDatabaseFrom, which is far
// cheaper than migrating every test's database.
//
// QueryCounter, a pgx tracer, counts the statements (round trips) and the
// tables written by the code under test, so a test can bound what a code
// path costs the database.
package pgtest
